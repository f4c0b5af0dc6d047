// The libFuzzer driver for the two fuzz targets (see scripts/fuzz).
//
// Built with -sanitize=fuzzer (and -DFUZZING), libFuzzer supplies `main` and calls
// LLVMFuzzerTestOneInput with each input for the target that CELLCLUSTER_FUZZ_TARGET names
// (wire or worker). In an ordinary build, `cellcluster-fuzz wire|worker FILE|FOLDER...` replays
// inputs through the same target (a regression run), and `cellcluster-fuzz seed DIR` writes the
// seed corpus.
import Foundation
import Fuzzing

enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = ["wire": WireDecoderTarget.run, "worker": WorkerCoreTarget.run]
}

#if FUZZING
/// The target, chosen once from the environment.
let selectedTarget: @Sendable ([UInt8]) -> Void = {
    let name = ProcessInfo.processInfo.environment["CELLCLUSTER_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("cellcluster-fuzz: set CELLCLUSTER_FUZZ_TARGET to wire or worker\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
@main
struct FuzzDriver {
    static func main() throws {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "seed" {
            for (name, files) in [("wire", SeedCorpus.wire), ("worker", SeedCorpus.worker)] {
                let folder = "\(arguments[2])/\(name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for (index, bytes) in files.enumerated() {
                    try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/seed-\(String(format: "%03d", index))"))
                }
                print("\(folder): \(files.count) files")
            }
            return
        }
        guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
            FileHandle.standardError.write(Data("usage: cellcluster-fuzz wire|worker FILE|FOLDER... | seed DIR\n".utf8))
            exit(2)
        }
        var replayed = 0
        for path in arguments.dropFirst(2) {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { continue }
            let files = isFolder.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target([UInt8](data))
                replayed += 1
            }
        }
        print("replayed \(replayed) inputs through the \(arguments[1]) target: no crash")
    }
}
#endif
