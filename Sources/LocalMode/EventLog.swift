import Foundation
import Logging
import Synchronization

/// Where `thaw up`'s log goes while the live view owns the terminal: every line to a file, and the
/// newest notable ones kept for the view's "recent events" section.
public final class EventLog: Sendable {
    private let file: FileHandle?
    private let recent = Mutex<[String]>([])
    private let keep: Int

    public init(path: String, keep: Int = 8) {
        FileManager.default.createFile(atPath: path, contents: nil)
        file = FileHandle(forWritingAtPath: path)
        self.keep = keep
    }

    public var recentLines: [String] { recent.withLock { $0 } }

    func write(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) {
        let time = Self.timeFormatter.withLock { $0.string(from: Date()) }
        let details = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(time) \(level) \(label): \(message)\(details.isEmpty ? "" : " " + details)"
        file?.write(Data((line + "\n").utf8))
        guard level >= .info, Self.notable(message) || level >= .warning else { return }
        let short = "\(time) \(message) " + ["target", "replica", "from", "to", "trigger", "error"]
            .compactMap { key in metadata[key].map { "\(key)=\(String(describing: $0).split(separator: "\n").first ?? "")" } }
            .joined(separator: " ")
        recent.withLock { lines in
            lines.append(String(short.prefix(160)))
            if lines.count > keep { lines.removeFirst(lines.count - keep) }
        }
    }

    private static func notable(_ message: String) -> Bool {
        ["scaling", "replica ready", "replica stopped", "replica failed", "crash", "holding", "cannot"].contains { message.contains($0) }
    }

    private static let timeFormatter: Mutex<DateFormatter> = {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss.SSS"
        return Mutex(formatter)
    }()

    /// A swift-log handler writing here.
    public func handler(label: String) -> some LogHandler { Handler(label: label, log: self) }

    struct Handler: LogHandler {
        let label: String
        let log: EventLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
                 function: String, line: UInt) {
            log.write(level: level, label: label, message: message.description, metadata: self.metadata.merging(extra ?? [:]) { $1 })
        }
    }
}
