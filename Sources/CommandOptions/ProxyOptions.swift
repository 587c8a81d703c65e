import ArgumentParser
import ControlHTTP

/// What differs between the processes that run Thaw's proxy: their default ports and drain time,
/// and what their main port is for.
public protocol ProxyFlagDefaults {
    static var port: Int { get }
    static var portHelp: String { get }
    static var drainSeconds: Double { get }
    static var drainHelp: String { get }
}

/// The flags of every process that runs Thaw's proxy (thaw-activator, thaw-queue, and the activator
/// inside thaw up and thaw demo): the port that takes traffic and how long a shutdown drains.
public struct ProxyOptions<Defaults: ProxyFlagDefaults>: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(Defaults.portHelp))
    public var port = Defaults.port

    @Option(name: .customLong("drain-seconds"), help: ArgumentHelp(Defaults.drainHelp))
    public var drainSeconds = Defaults.drainSeconds

    public init() {}

    public func validate() throws {
        try FlagCheck.port(port)
        try FlagCheck.drainSeconds(drainSeconds)
    }

    public var drainDeadline: Duration { .milliseconds(Int64(drainSeconds * 1000)) }
}

/// The flags of a proxy that runs as its own process (thaw-activator, thaw-queue): where it listens,
/// its admin port, and the autoscaler it reports to.
public struct ProxyProcessOptions<Defaults: ProxyProcessDefaults>: ParsableArguments {
    @Option(name: .long, help: "Address to listen on, for both ports.")
    public var host = "127.0.0.1"

    @Option(name: .customLong("admin-port"), help: "Port for /metrics, /healthz, /readyz and /status (0 picks a free port).")
    public var adminPort = Defaults.adminPort

    @Option(name: .customLong("autoscaler-url"), help: ArgumentHelp(Defaults.autoscalerHelp))
    public var autoscalerURL: String?

    @Option(name: .customLong("client-header-timeout"), help: "Seconds a client may take to send a request head, from its connection or the head's first byte (408 after).")
    public var headTimeoutSeconds = 60.0

    @Option(name: .customLong("client-body-timeout"), help: "Seconds a client may pause while sending a request body (408, or the connection closes).")
    public var bodyTimeoutSeconds = 60.0

    @Option(name: .customLong("keepalive-timeout"), help: "Seconds a kept-alive client connection may idle between requests before it is closed.")
    public var keepAliveTimeoutSeconds = 75.0

    @Option(name: .customLong("max-connections"), help: "Open client connections allowed on the proxy ports; at the cap a new one replaces the longest idle one, or is closed when none idles (default: half the open-file limit, raised to its hard limit, after a reserve).")
    public var maxConnections: Int?

    @Option(name: .customLong("slow-start-window"), help: "Requests a newly ready replica gets at once; the window grows by one with each it answers, until 128 or its containerConcurrency (0: no slow start).")
    public var slowStartWindow = 4

    public init() {}

    public func validate() throws {
        try FlagCheck.port(adminPort, flag: "--admin-port")
        if !(0...10_000).contains(slowStartWindow) { throw ValidationError("--slow-start-window must be 0 to 10000, got \(slowStartWindow)") }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1, got \(maxConnections)") }
        try FlagCheck.autoscalerURL(autoscalerURL)
        for (flag, seconds) in [("--client-header-timeout", headTimeoutSeconds), ("--client-body-timeout", bodyTimeoutSeconds),
                                ("--keepalive-timeout", keepAliveTimeoutSeconds)] where !(seconds > 0 && seconds <= 86_400) {
            throw ValidationError("\(flag) must be above 0 and at most 86400 seconds, got \(seconds)")
        }
    }

    /// The three client timeouts, in nanoseconds: head, body, keep-alive.
    public var clientTimeoutNanoseconds: (head: Int64, body: Int64, keepAlive: Int64) {
        (Int64(headTimeoutSeconds * 1e9), Int64(bodyTimeoutSeconds * 1e9), Int64(keepAliveTimeoutSeconds * 1e9))
    }

    /// The checked `--autoscaler-url` (`validate()` has refused a malformed one).
    public var autoscaler: AutoscalerURL? { autoscalerURL.flatMap(AutoscalerURL.init) }
}

public protocol ProxyProcessDefaults {
    static var adminPort: Int { get }
    static var autoscalerHelp: String { get }
}
