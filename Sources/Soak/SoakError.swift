/// A soak that cannot run, or a cluster that did not behave (no map, a process not ready).
public struct SoakError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
