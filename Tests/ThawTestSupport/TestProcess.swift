import Foundation

/// A real executable from this package, started for one test and killed when the test is done.
///
/// Output goes to files so a test can wait for a line ("listening on ...") and show the log when
/// an expectation fails.
public final class TestProcess: @unchecked Sendable {
    public let process = Process()
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String

    /// - Parameter environment: variables added to this process's own.
    public convenience init(_ executable: String, _ arguments: [String], name: String? = nil, environment: [String: String] = [:]) throws {
        try self.init(url: Self.executable(executable), arguments: arguments, name: name ?? executable, environment: environment)
    }

    public init(url: URL, arguments: [String], name: String, environment: [String: String] = [:]) throws {
        self.name = name
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutPath = directory.appendingPathComponent("stdout").path
        stderrPath = directory.appendingPathComponent("stderr").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout or stderr contains `text`; returns the first line that does.
    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 20) async throws -> String {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            for line in (stdout + "\n" + stderr).split(separator: "\n") where line.contains(text) {
                return String(line)
            }
            if !process.isRunning {
                throw TestFailure("\(name) exited with status \(process.terminationStatus) before printing \"\(text)\"; stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("\(name) did not print \"\(text)\" within \(timeout) s; stderr:\n\(stderr)")
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit; returns its status, or nil if it is still running after `timeout`.
    public func waitForExit(timeout: Double) async throws -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < end { try await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Peak and current resident memory in KiB, from /proc.
    public var memory: (peak: Int, current: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return (field("VmHWM"), field("VmRSS"))
    }

    /// A program from the system's PATH, e.g. curl (installed by `make test`).
    public static func systemExecutable(_ name: String) throws -> URL {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestFailure("\(name) is not installed; `make test` installs it (apt-get install \(name))")
    }

    /// The built executable `name`, found next to (or above) the running test binary.
    public static func executable(_ name: String) throws -> URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestFailure("build \(name) first (swift build); looked next to \(testBinary.path)")
        }
        return url
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
