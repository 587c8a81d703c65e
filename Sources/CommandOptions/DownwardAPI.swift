import Foundation

/// What a pod's Downward API puts in the environment (`POD_NAME`, `POD_NAMESPACE`, `POD_IP`), read
/// the one way every command reads it: an empty value is no value.
public enum DownwardAPI {
    public static func value(_ name: String, in environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}
