import SwiftProtobuf

extension Cellcluster_V1_StatusReply {
    /// proto3 JSON (lowerCamelCase field names, 64-bit integers as strings), for `status --json`.
    public var jsonText: String {
        var options = JSONEncodingOptions()
        options.alwaysPrintEnumsAsInts = false
        return (try? jsonString(options: options)) ?? "{}"
    }
}
