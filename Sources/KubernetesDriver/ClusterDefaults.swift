import Foundation
import Logging
import ScalingPolicy
import ServiceLifecycle

/// The cluster defaults (Knative's `config-autoscaler` keys) from a ConfigMap mounted as a
/// directory, one file per key, which the kubelet updates in place when the ConfigMap changes.
/// Read again every few seconds: a changed set that is valid applies to every workload's policy at
/// once; a broken one is logged with every problem, and the previous set stays.
public struct ClusterDefaults: Service {
    public let directory: String
    let cluster: ClusterWatch
    let interval: Duration
    let logger: Logger

    public init(directory: String, cluster: ClusterWatch, interval: Duration = .seconds(5), logger: Logger) {
        self.directory = directory
        self.cluster = cluster
        self.interval = interval
        self.logger = logger
    }

    /// The keys and values in `directory`: its regular files, without the kubelet's `..data` links
    /// and other dot-files; each value trimmed of surrounding white space. At most 64 KiB a file.
    public static func read(directory: String) throws -> [String: String] {
        var data: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            let bytes = try handle.read(upToCount: 65_537) ?? Data()
            guard bytes.count <= 65_536, let text = String(data: bytes, encoding: .utf8) else {
                throw ClusterDefaultsError("\(path): a config-autoscaler value must be UTF-8 text of at most 64 KiB")
            }
            data[name] = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return data
    }

    /// The defaults in `directory`, checked.
    public static func load(directory: String) throws -> AutoscalerConfig {
        let data = try read(directory: directory)
        do {
            return try AutoscalerConfig(data: data)
        } catch {
            throw ClusterDefaultsError("\(directory): \(error)")
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            var last = try? Self.read(directory: directory)
            while true {
                try await Task.sleep(for: interval)
                let data: [String: String]
                do {
                    data = try Self.read(directory: directory)
                } catch {
                    logger.error("cannot read the cluster defaults; keeping the previous ones", metadata: ["directory": "\(directory)", "error": "\(error)"])
                    continue
                }
                guard data != last else { continue }
                last = data
                do {
                    let config = try AutoscalerConfig(data: data)
                    cluster.setConfig(config)
                    logger.notice("cluster defaults changed; every workload's policy is read again", metadata: ["directory": "\(directory)"])
                } catch {
                    logger.error("the cluster defaults have errors; keeping the previous ones", metadata: ["directory": "\(directory)", "error": "\(error)"])
                }
            }
        }
    }
}

public struct ClusterDefaultsError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
