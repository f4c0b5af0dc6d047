import Foundation
import Synchronization

/// SIGTERM and SIGINT ask the process to stop gracefully; the node's loop checks this flag.
public enum Shutdown {
    private static let requested = Atomic<Bool>(false)
    private static let signalNumber = Atomic<Int32>(0)

    /// Installs handlers for SIGTERM and SIGINT that only set the flag (async-signal-safe).
    public static func installHandlers() {
        for sig in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                Shutdown.signalNumber.store(number, ordering: .relaxed)
                Shutdown.requested.store(true, ordering: .relaxed)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
        signal(SIGPIPE, SIG_IGN)
        // A parent may have started us with these blocked (the mask is inherited): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static var isRequested: Bool { requested.load(ordering: .relaxed) }
    public static var signalName: String {
        switch signalNumber.load(ordering: .relaxed) {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "request"
        }
    }

    /// Asks for a stop from inside the process (tests, admin commands).
    public static func request() { requested.store(true, ordering: .relaxed) }
}
