#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ControlHTTP
import Foundation
import Logging
import NIOCore
import ScaleTargets
import Synchronization
import ThawVocabulary
import TrafficStats

/// The local driver's bookkeeping: every target's replicas and their processes, moved one step
/// towards the desired counts on each call. Owned by the driver's run loop alone.
final class Supervisor {
    final class Replica {
        let id: String
        let endpoint: EndpointAddress
        /// The model server's own address, probed directly to say why a replica never got ready.
        let modelEndpoint: EndpointAddress
        let model: ChildProcess
        let queue: ChildProcess
        let started = ContinuousClock.now
        var phase = ReplicaPhase.starting
        var modelExit: ChildProcess.Exit?
        var queueExit: ChildProcess.Exit?
        /// When "not ready yet" was last logged, so a slow model is reported every few seconds, not every probe.
        var lastNotReadyLog: ContinuousClock.Instant?
        /// The container's declared readiness timing, tracked; nil when it declares no readinessProbe.
        var readiness: ReadinessTracker?

        init(id: String, endpoint: EndpointAddress, modelEndpoint: EndpointAddress, model: ChildProcess, queue: ChildProcess,
             timing: ProbeTiming?) {
            self.id = id
            self.endpoint = endpoint
            self.modelEndpoint = modelEndpoint
            self.model = model
            self.queue = queue
            readiness = timing.map { ReadinessTracker(timing: $0, started: started) }
        }

        /// Whether the activator may route here: not before the declared initial delay, and not
        /// while the periodic readiness probe is failing.
        func isRoutable(at now: ContinuousClock.Instant) -> Bool {
            switch phase {
            case .ready: true
            case .starting: readiness?.isPastInitialDelay(at: now) ?? true
            default: false
            }
        }

        /// Reaps whichever process ended since the last look.
        func reap() {
            if modelExit == nil { modelExit = model.poll() }
            if queueExit == nil { queueExit = queue.poll() }
        }

        var gone: Bool { modelExit != nil && queueExit != nil }

        /// Sends what a phase transition asks for: SIGTERM to the process, SIGKILL to its whole group.
        func perform(_ actions: [ReplicaPhase.Action]) {
            for action in actions {
                switch action {
                case .terminate(let member): child(member).signal(SIGTERM)
                case .kill(let member, _): child(member).signal(SIGKILL)
                }
            }
        }

        func child(_ member: ReplicaPhase.Member) -> ChildProcess {
            switch member {
            case .sidecar: queue
            case .model: model
            }
        }
    }

    struct Record {
        let spec: LocalTarget
        var live: [Replica] = []
        var leaving: [Replica] = []
        var consecutiveCrashes = 0
        var nextStart: ContinuousClock.Instant?
        var failure: String?
        var counter = 0
    }

    private var records: [Record]
    private let options: LocalProcessDriver.Options
    private let logger: Logger

    init(targets: [LocalTarget], options: LocalProcessDriver.Options, logger: Logger) {
        records = targets.map { Record(spec: $0) }
        self.options = options
        self.logger = logger
    }

    /// Something is in motion (a replica starting or stopping): look again soon.
    var hasPendingWork: Bool {
        records.contains { !$0.leaving.isEmpty || $0.live.contains { $0.phase.isStarting } }
    }

    var states: [TargetState] {
        let now = ContinuousClock.now
        return records.map { record in
            TargetState(name: record.spec.name, endpoints: record.live.filter { $0.isRoutable(at: now) }.map(\.endpoint),
                        ready: record.live.filter(\.phase.isReady).map(\.endpoint), failure: record.failure)
        }
    }

    /// Runs `work` beside the supervisor loop (in the driver's task group), for what may take long.
    typealias Spawn = (@escaping @Sendable () async -> Void) -> Void

    /// Answers of periodic probes that ran beside the loop, by replica id: nil for a pass.
    final class ProbeAnswers: Sendable {
        private let answers = Mutex<[String: String?]>([:])
        func put(_ id: String, _ answer: String?) { answers.withLock { $0[id] = answer } }
        func take() -> [String: String?] { answers.withLock { answers in defer { answers = [:] }; return answers } }
    }

    private let periodicAnswers = ProbeAnswers()
    /// Replicas whose periodic probe is under way: one at a time each.
    private var periodicInFlight: Set<String> = []

    func reconcile(desired: [String: Int], group: any EventLoopGroup, spawn: Spawn) async {
        for index in records.indices {
            checkProcesses(&records[index])
            advanceStops(&records[index])
        }
        await probe(group: group, spawn: spawn)
        for index in records.indices {
            scale(&records[index], to: desired[records[index].spec.name] ?? 0)
        }
    }

    /// Stops every replica, publishing each step, and returns when every process is gone.
    func stopAll(group: any EventLoopGroup, publish: ([TargetState]) -> Void) async {
        for index in records.indices {
            for replica in records[index].live { replica.phase.stop(at: .now) }
            records[index].leaving += records[index].live
            records[index].live = []
        }
        publish(states)
        while records.contains(where: { !$0.leaving.isEmpty }) {
            for index in records.indices { advanceStops(&records[index]) }
            if Task.isCancelled {
                // No time left for a graceful stop: kill and reap everything now.
                for index in records.indices {
                    for replica in records[index].leaving {
                        kill(replica)
                        if replica.modelExit == nil { replica.model.reapNow() }
                        if replica.queueExit == nil { replica.queue.reapNow() }
                    }
                    records[index].leaving = []
                }
                return
            }
            try? await Task.sleep(for: .milliseconds(25))
        }
    }

    // MARK: Steps

    private func checkProcesses(_ record: inout Record) {
        var crashed: [(Replica, String)] = []
        for replica in record.live {
            replica.reap()
            if let exit = replica.modelExit {
                crashed.append((replica, "its model server (\(replica.model.executable)) \(exit); last output:\n\(replica.model.logTail())"))
            } else if let exit = replica.queueExit {
                crashed.append((replica, "its thaw-queue sidecar \(exit); last output:\n\(replica.queue.logTail())"))
            }
        }
        for (replica, reason) in crashed {
            let wasReady = replica.phase.isReady
            record.live.removeAll { $0 === replica }
            kill(replica)
            record.leaving.append(replica)
            recordCrash(&record, "replica \(replica.id): \(reason)", wasReady: wasReady)
        }
    }

    private func recordCrash(_ record: inout Record, _ message: String, wasReady: Bool, failsTarget: Bool = false) {
        record.consecutiveCrashes = wasReady ? 1 : record.consecutiveCrashes + 1
        let exponent = min(record.consecutiveCrashes - 1, 16)
        let backoff = min(options.maxBackoff, options.firstBackoff * (1 << exponent))
        record.nextStart = .now + backoff
        logger.error("replica failed; starting another after a backoff", metadata: [
            "target": "\(record.spec.name)", "backoff": "\(backoff)", "crashes in a row": "\(record.consecutiveCrashes)", "error": "\(message)"])
        if failsTarget {
            if record.failure == nil { logger.critical("target failed; waiting requests are refused until a replica becomes ready", metadata: ["target": "\(record.spec.name)", "reason": "\(message)"]) }
            record.failure = "\(record.spec.name) cannot become ready: \(message)"
        } else if record.consecutiveCrashes >= options.crashLoopThreshold {
            let failure = "\(record.spec.name) is crash-looping: \(record.consecutiveCrashes) replicas in a row failed before becoming ready; last: \(message)"
            if record.failure == nil { logger.critical("target is crash-looping; waiting requests are refused until a replica becomes ready", metadata: ["target": "\(record.spec.name)"]) }
            record.failure = failure
        }
    }

    /// Kills both process groups outright: whatever the model server started dies with it, even
    /// when the group's leader is already gone. (A group's ID is not reused while it has members.)
    private func kill(_ replica: Replica) {
        replica.perform(replica.phase.kill())
    }

    /// Graceful stop, step by step: unpublished for a moment so no new request is routed there,
    /// then the sidecar drains and exits, then the model server is stopped.
    private func advanceStops(_ record: inout Record) {
        let now = ContinuousClock.now
        let drainLimit = ReplicaPhase.drainLimit(drainSeconds: options.drainSeconds)
        for replica in record.leaving {
            replica.reap()
            let actions = replica.phase.advance(at: now, sidecarExited: replica.queueExit != nil, modelExited: replica.modelExit != nil,
                                                drainLimit: drainLimit)
            for case .kill(let member, overdue: true) in actions {
                logger.warning(member == .sidecar ? "sidecar did not stop after draining; killing it"
                                                  : "model server did not stop within \(ReplicaPhase.modelStopLimit) of SIGTERM; killing it",
                               metadata: ["replica": "\(replica.id)"])
            }
            replica.perform(actions)
        }
        let gone = record.leaving.filter(\.gone)
        record.leaving.removeAll(where: \.gone)
        for replica in gone where replica.phase != .killed {
            logger.info("replica stopped", metadata: ["target": "\(record.spec.name)", "replica": "\(replica.id)"])
        }
    }

    /// One probe to run: a starting replica's sidecar (which answers from its own probe of the
    /// model server), or a ready replica's model server itself (the sidecar keeps its first answer).
    private struct ProbeCall: Sendable {
        var id: String
        var endpoint: EndpointAddress
        var path: String
        var timeout: TimeAmount
        var viaSidecar: Bool
        /// A gRPC model server, asked directly: the path names the method called.
        var grpc = false
    }

    private func probe(group: any EventLoopGroup, spawn: Spawn) async {
        let now = ContinuousClock.now
        // Periodic probes that finished since the last round.
        let finished = periodicAnswers.take()
        periodicInFlight.subtract(finished.keys)
        trackReadiness(finished, at: now)
        var calls: [ProbeCall] = []
        for record in records {
            for replica in record.live {
                if replica.phase.isStarting, replica.readiness?.isPastInitialDelay(at: now) ?? true {
                    calls.append(ProbeCall(id: replica.id, endpoint: replica.endpoint, path: record.spec.readinessPath,
                                           timeout: .milliseconds(500), viaSidecar: true))
                } else if let readiness = replica.readiness, readiness.isProbeDue(at: now), !periodicInFlight.contains(replica.id) {
                    // Beside the loop: a declared timeout may be long, and a hung model server must not
                    // hold up starts, stops and crash detection of every other replica.
                    let call = ProbeCall(id: replica.id, endpoint: replica.modelEndpoint, path: record.spec.readinessPath,
                                         timeout: .milliseconds(Int64(readiness.timing.timeout / .milliseconds(1))), viaSidecar: false,
                                         grpc: record.spec.protocol == .h2c)
                    periodicInFlight.insert(replica.id)
                    let answers = periodicAnswers
                    spawn { answers.put(call.id, await Self.failure(of: call, group: group)) }
                }
            }
        }
        // Starting replicas: through their sidecars, 500 ms at most, all at once.
        let answers = await withTaskGroup(of: (String, String?).self) { tasks in
            for call in calls {
                tasks.addTask { (call.id, await Self.failure(of: call, group: group)) }
            }
            var failures: [String: String?] = [:]
            for await (id, failure) in tasks { failures[id] = failure }
            return failures
        }
        let results = Set(answers.compactMap { $0.value == nil ? $0.key : nil })
        await checkProgress(group: group, ready: results)
        for index in records.indices {
            for replica in records[index].live where results.contains(replica.id) && replica.phase.isStarting {
                replica.phase = .ready
                replica.readiness?.started(at: .now)
                records[index].consecutiveCrashes = 0
                if records[index].failure != nil {
                    logger.notice("target recovered: a replica is ready", metadata: ["target": "\(records[index].spec.name)"])
                }
                records[index].failure = nil
                logger.info("replica ready", metadata: ["target": "\(records[index].spec.name)", "replica": "\(replica.id)", "endpoint": "\(replica.endpoint)"])
            }
        }
    }

    /// What a probe answered when it did not pass; nil when it passed.
    private static func failure(of call: ProbeCall, group: any EventLoopGroup) async -> String? {
        if call.grpc { return await grpcAnswer(group: group, endpoint: call.endpoint, path: call.path, timeout: call.timeout).failure }
        do {
            let response = try await HTTPCall.perform(on: group.any(), to: call.endpoint, path: call.path,
                                                      headers: call.viaSidecar ? [(ProxyHeaders.probe, "local-driver")] : [],
                                                      timeout: call.timeout)
            let passed = (200..<300).contains(response.status)
            return passed ? nil : "\(response.status) \(response.body.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines))"
        } catch {
            return "no answer (\(error))"
        }
    }

    /// A ready replica's periodic probe: out of rotation after `failureThreshold` failures in a row,
    /// back on a pass, each change logged once (a failing probe is not logged every period).
    private func trackReadiness(_ answers: [String: String?], at now: ContinuousClock.Instant) {
        for record in records {
            for replica in record.live where !replica.phase.isStarting {
                guard let answer = answers[replica.id], var readiness = replica.readiness else { continue }
                let change = readiness.record(passed: answer == nil, at: now)
                replica.readiness = readiness
                switch change {
                case .none:
                    break
                case .becameNotReady(let failures):
                    replica.phase = .notReady
                    logger.warning("replica failed its readiness probe; out of rotation until it passes again", metadata: [
                        "target": "\(record.spec.name)", "replica": "\(replica.id)", "failures in a row": "\(failures)",
                        "readiness check": "GET \(record.spec.readinessPath)", "last answer": "\(answer ?? "")"])
                case .becameReady:
                    replica.phase = .ready
                    logger.notice("replica passed its readiness probe again; back in rotation", metadata: [
                        "target": "\(record.spec.name)", "replica": "\(replica.id)"])
                }
            }
        }
    }

    /// Starting replicas that have not passed their readiness check: said every 10 s, and past the
    /// target's progress deadline the replica is stopped and the target failed with what its model
    /// server answered and printed, so waiting requests get 503 with the reason at once instead of
    /// waiting out their timeout.
    private func checkProgress(group: any EventLoopGroup, ready: Set<String>) async {
        let now = ContinuousClock.now
        for index in records.indices {
            let spec = records[index].spec
            for replica in records[index].live where replica.phase.isStarting && !ready.contains(replica.id) {
                // Counted from the end of the declared initial delay, before which nothing probes it.
                let waited = now - replica.started - (replica.readiness?.timing.initialDelay ?? .zero)
                guard waited > .zero else { continue }
                let overdue = waited > spec.progressDeadline
                guard overdue || replica.lastNotReadyLog.map({ now - $0 >= .seconds(10) }) ?? (waited >= .seconds(10)) else { continue }
                let answer = await Self.readinessAnswer(of: replica, path: spec.readinessPath, grpc: spec.protocol == .h2c, group: group)
                guard overdue else {
                    replica.lastNotReadyLog = now
                    logger.warning("replica not ready yet", metadata: [
                        "target": "\(spec.name)", "replica": "\(replica.id)", "waited": "\(waited)",
                        "readiness check": "\(spec.readinessPath)", "last answer": "\(answer)", "deadline": "\(spec.progressDeadline)"])
                    continue
                }
                records[index].live.removeAll { $0 === replica }
                kill(replica)
                records[index].leaving.append(replica)
                recordCrash(&records[index], "replica \(replica.id) did not pass its readiness check (\(spec.protocol == .h2c ? "gRPC" : "GET") \(spec.readinessPath) on its model server) within \(spec.progressDeadline) (serving.knative.dev/progress-deadline); it answered: \(answer); last output:\n\(replica.model.logTail())",
                            wasReady: false, failsTarget: true)
            }
        }
    }

    /// What the model server itself says at its readiness path, for the messages above.
    private static func readinessAnswer(of replica: Replica, path: String, grpc: Bool, group: any EventLoopGroup) async -> String {
        if grpc { return await grpcAnswer(group: group, endpoint: replica.modelEndpoint, path: path, timeout: .milliseconds(500)).answer }
        do {
            let response = try await HTTPCall.perform(on: group.any(), to: replica.modelEndpoint, path: path, timeout: .milliseconds(500))
            return "\(response.status) \(response.body.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines))"
        } catch {
            return "no answer (\(error))"
        }
    }

    /// A gRPC model server's answer to its readiness method; `failure` nil when it passed.
    private static func grpcAnswer(group: any EventLoopGroup, endpoint: EndpointAddress, path: String,
                                   timeout: TimeAmount) async -> (answer: String, failure: String?) {
        do {
            let response = try await GRPCProbeCall.perform(on: group.any(), to: endpoint, path: path, timeout: timeout)
            return (response.summary, response.isReady ? nil : response.summary)
        } catch {
            return ("no answer (\(error))", "no answer (\(error))")
        }
    }

    private func scale(_ record: inout Record, to desired: Int) {
        if record.live.count > desired {
            // Not-ready replicas go first (they serve nothing yet), then the newest.
            let order = record.live.enumerated().sorted { a, b in
                if a.element.phase.isReady != b.element.phase.isReady { return !a.element.phase.isReady }
                return a.offset > b.offset
            }.map(\.element)
            for replica in order.prefix(record.live.count - desired) {
                replica.phase.stop(at: .now)
                record.live.removeAll { $0 === replica }
                record.leaving.append(replica)
                logger.info("stopping replica", metadata: ["target": "\(record.spec.name)", "replica": "\(replica.id)"])
            }
        }
        guard record.live.count < desired else { return }
        if let next = record.nextStart, ContinuousClock.now < next { return }
        for _ in record.live.count..<desired {
            do {
                record.live.append(try start(&record))
            } catch {
                recordCrash(&record, "cannot start a replica: \(error)", wasReady: false)
                return
            }
        }
    }

    private func start(_ record: inout Record) throws -> Replica {
        record.counter += 1
        let id = "\(record.spec.name)-\(record.counter)"
        let ports = try FreePort.take(3)
        let (queuePort, modelPort, adminPort) = (ports[0], ports[1], ports[2])
        let command = try record.spec.command(modelPort)
        var environment = ProcessInfo.processInfo.environment
        let inheritedPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["PATH"] = (options.extraPath + [inheritedPath]).joined(separator: ":")
        for (key, value) in command.environment { environment[key] = value }
        let logBase = "\(options.logDirectory)/\(id)"
        let model = try ChildProcess.spawn(executable: command.executable, arguments: command.arguments, environment: environment,
                                           workingDirectory: command.workingDirectory, logPath: logBase + ".model.log")
        let queue: ChildProcess
        do {
            queue = try ChildProcess.spawn(
                executable: options.queueExecutable,
                arguments: ["--target", record.spec.name, "--replica", id, "--upstream", "127.0.0.1:\(modelPort)",
                            "--readiness-path", record.spec.readinessPath, "--protocol", record.spec.protocol.rawValue,
                            "--container-concurrency", String(record.spec.containerConcurrency),
                            "--port", String(queuePort), "--admin-port", String(adminPort),
                            "--autoscaler-url", options.autoscalerURL, "--drain-seconds", String(options.drainSeconds),
                            "--supervisor-pid", String(getpid()), "--model-pid", String(model.pid)]
                    + (record.spec.logger?.arguments ?? []),
                environment: ProcessInfo.processInfo.environment, workingDirectory: FileManager.default.currentDirectoryPath,
                logPath: logBase + ".queue.log")
        } catch {
            model.signal(SIGKILL)
            model.reapNow()
            throw error
        }
        logger.info("replica started", metadata: [
            "target": "\(record.spec.name)", "replica": "\(id)", "sidecar": "127.0.0.1:\(queuePort)", "model": "127.0.0.1:\(modelPort)",
            "logs": "\(logBase).{model,queue}.log"])
        return Replica(id: id, endpoint: EndpointAddress(host: "127.0.0.1", port: queuePort),
                       modelEndpoint: EndpointAddress(host: "127.0.0.1", port: modelPort), model: model, queue: queue,
                       timing: record.spec.readinessTiming)
    }
}
