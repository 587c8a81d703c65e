import AutoscalerDaemon
import LocalMode
import MLService
import ControlHTTP
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import ThawTestSupport
import ThawVocabulary

/// A real `thaw up` process on an MLService file written for one test, with its addresses parsed
/// from what it prints, and helpers to send traffic and read the autoscaler's status.
final class ThawUp: @unchecked Sendable {
    let process: TestProcess
    let directory: URL
    let activator: EndpointAddress
    let activatorAdmin: EndpointAddress
    let autoscaler: EndpointAddress
    /// Service name → its own port.
    let servicePorts: [String: Int]

    init(yaml: String, services: [String]) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-up-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("services.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        process = try TestProcess("thaw", ["up", file.path, "--port", "0", "--plain", "--drain-seconds", "5",
                                           "--log-dir", directory.appendingPathComponent("logs").path,
                                           "--run-file", directory.appendingPathComponent("run.json").path])
        let first = try await process.waitFor("thaw up: activator")
        func address(after label: String, in line: String) throws -> EndpointAddress {
            guard let range = line.range(of: "\(label) http://") else { throw TestFailure("no \(label) address in: \(line)") }
            let rest = line[range.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != ")" }
            guard let endpoint = EndpointAddress(String(rest)) else { throw TestFailure("bad \(label) address in: \(line)") }
            return endpoint
        }
        activator = try address(after: "activator", in: first)
        activatorAdmin = try address(after: "admin", in: first)
        autoscaler = try address(after: "autoscaler", in: first)
        var ports: [String: Int] = [:]
        for service in services {
            let line = try await process.waitFor("service \(service): http://")
            guard let range = line.range(of: "http://127.0.0.1:"), let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
                throw TestFailure("no port in: \(line)")
            }
            ports[service] = port
        }
        servicePorts = ports
        _ = try await process.waitFor("thaw-activator listening")
    }

    /// Stops `thaw up` the way a person does (SIGTERM), so it stops its replicas; kills it only if it hangs.
    deinit {
        if process.process.isRunning {
            process.signal(SIGTERM)
            let end = Date().addingTimeInterval(20)
            while process.process.isRunning, Date() < end { usleep(20_000) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    static let group = MultiThreadedEventLoopGroup.singleton

    /// One request to a service's own port.
    func request(_ service: String, path: String, method: HTTPMethod = .GET, body: [UInt8]? = nil,
                 timeout: TimeAmount = .seconds(60)) async throws -> HTTPCall.Response {
        try await HTTPCall.perform(on: Self.group.any(), to: EndpointAddress(host: "127.0.0.1", port: servicePorts[service]!),
                                   method: method, path: path, body: body, timeout: timeout)
    }

    func status() async throws -> [String: TargetStatus] {
        // Polled: a slow answer on a machine busy with the whole suite is not what any test checks.
        let response = try await HTTPCall.perform(on: Self.group.any(), to: autoscaler, path: "/status", timeout: .seconds(15))
        let status = try JSONDecoder().decode(AutoscalerStatus.self, from: Data(response.body.utf8))
        return Dictionary(status.targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Polls the autoscaler's status until `condition` holds; fails with the last status and log after `timeout`.
    @discardableResult
    func waitUntil(_ what: String, timeout: Double, _ condition: ([String: TargetStatus]) -> Bool) async throws -> [String: TargetStatus] {
        let end = Date().addingTimeInterval(timeout)
        var last: [String: TargetStatus] = [:]
        while Date() < end {
            last = try await status()
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        let summary = last.values.sorted { $0.name < $1.name }.map { "\($0.name): requested \($0.requested) ready \($0.ready) \($0.activity) (\($0.reason))" }
        throw TestFailure("timed out after \(timeout) s waiting for \(what); status:\n\(summary.joined(separator: "\n"))\nlog tail:\n\(process.stderr.split(separator: "\n").suffix(30).joined(separator: "\n"))")
    }

    /// Pids of every process `thaw up` started (its children), from /proc.
    func childPids() -> [Int32] {
        Self.processes().filter { $0.ppid == process.pid }.map(\.pid)
    }

    static func processes() -> [(pid: Int32, ppid: Int32, state: Character)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let state = fields[0].first, let ppid = Int32(fields[1]) else { return nil }
            return (pid, ppid, state)
        }
    }

    /// The inode of the socket listening on `port` (from /proc/net/tcp), if any.
    static func listeningSocketInode(port: Int) -> String? {
        // Read to the end: String(contentsOfFile:) stops at procfs's first page (about 27 sockets),
        // and a machine that just ran the load tests has thousands in TIME_WAIT before the listener.
        let table = FileHandle(forReadingAtPath: "/proc/net/tcp").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
        let hexPort = String(format: ":%04X", port)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { continue }
            return String(fields[9])
        }
        return nil
    }

    /// The socket inodes process `pid` holds open.
    static func socketInodes(of pid: Int32) -> Set<String> {
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(entries.compactMap { entry in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(entry)"),
                  target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
    }

    /// True while `pid` names a live process (zombies count as gone).
    static func isAlive(_ pid: Int32) -> Bool {
        processes().contains { $0.pid == pid && $0.state != "Z" }
    }
}

/// An MLService with an echo-backend runtime: fast to start, so tests spend their time on scaling.
enum EchoService {
    static func yaml(name: String, releases: [(name: String, extra: String)], canary: String? = nil, canaryPercent: Int = 0,
                     annotations: [String: String] = [:], command: String = "echo-backend", minReplicas: Int = 0,
                     maxReplicas: Int = 0) -> String {
        var text = """
            apiVersion: tensorstack.dev/v1beta1
            kind: MLServiceRuntime
            metadata:
              name: echo
            spec:
              template:
                spec:
                  containers:
                  - name: user-container
                    command: ["\(command)"]
                    args: ["--port", "{{.PORT}}", "--name", "{{.NAME}}", "--ready-after", "{{if .DELAY}}{{.DELAY}}{{else}}0{{end}}"]
            ---
            apiVersion: tensorstack.dev/v1beta1
            kind: MLService
            metadata:
              name: \(name)
            spec:
              default: \(releases[0].name)

            """
        if let canary {
            text += "  canary: \(canary)\n  canaryTrafficPercent: \(canaryPercent)\n"
        }
        text += "  releases:\n"
        var merged = ["autoscaling.knative.dev/initial-scale": "0", "serving.thaw.dev/readiness-path": "/ready"]
        merged.merge(annotations) { $1 }
        for release in releases {
            text += """
                  - name: \(release.name)
                    predictor:
                      minReplicas: \(minReplicas)
                      maxReplicas: \(maxReplicas)
                      model:
                        runtime: echo
                        parameters: {NAME: "\(release.name)"\(release.extra)}
                      template:
                        metadata:
                          annotations:

                """
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                text += "            \(key): \"\(value)\"\n"
            }
        }
        return text
    }
}

/// The plan of `parsed`, each service listener on the next port from `first` (no port is opened).
func localPlan(_ parsed: MLServiceFile, portsFrom first: Int) throws -> LocalPlan {
    var next = first
    return try LocalPlan(file: parsed) {
        next += 1
        return next
    }
}
