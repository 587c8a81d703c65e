import Foundation

/// An input file read whole, up to a limit: a path that names a log, a disk image or `/dev/zero` by
/// mistake is refused at the limit instead of filling memory before the first field is looked at.
public enum InputFile {
    /// Configuration: MLService, routing, collector and policy files, kubeconfigs.
    public static let configLimit = 16 * 1024 * 1024
    /// Recorded traces and demand curves, which may hold days of samples.
    public static let traceLimit = 256 * 1024 * 1024

    /// The file's text; errors name the file and `what` it is ("the MLService file").
    public static func text(at path: String, what: String, limit: Int = configLimit) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw ConfigError(file: path, "cannot read \(what): \(reason)")
        }
        defer { try? handle.close() }
        var data = Data()
        do {
            // A pipe or a device gives what it has on each read: read until the end or past the limit.
            while data.count <= limit, let chunk = try handle.read(upToCount: limit + 1 - data.count), !chunk.isEmpty {
                data.append(chunk)
            }
        } catch {
            throw ConfigError(file: path, "cannot read \(what): \(error.localizedDescription)")
        }
        guard data.count <= limit else {
            throw ConfigError(file: path, "\(what) is larger than \(limit / (1024 * 1024)) MiB, the most Thaw reads; is this the right file?")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, "\(what) is not UTF-8 text")
        }
        return text
    }
}
