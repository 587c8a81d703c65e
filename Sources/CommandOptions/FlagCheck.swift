import ArgumentParser
import ControlHTTP
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The flag checks every Thaw executable shares, so each says the same thing the same way.
public enum FlagCheck {
    public static func port(_ value: Int, flag: String = "--port") throws {
        guard (0...65535).contains(value) else { throw ValidationError("\(flag) must be from 0 to 65535 (0 picks a free port), got \(value)") }
    }

    /// Refuses a fixed port that something already listens on, naming the port and the flag, before
    /// anything starts or is announced (the bind would otherwise fail after the banner, with only
    /// the socket call's words). Port 0, and ports this process cannot test, pass.
    public static func portIsFree(_ port: Int, host: String = "127.0.0.1", flag: String = "--port") throws {
        #if canImport(Glibc)
        guard port > 0 else { return }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound != 0, errno == EADDRINUSE {
            throw ValidationError("\(flag) \(port): something already listens on \(host):\(port) (see: ss -ltnp 'sport = :\(port)'); stop it, pick another port, or give \(flag) 0 for a free one")
        }
        #endif
    }

    public static func drainSeconds(_ value: Double) throws {
        guard value >= 0, value <= 3600 else { throw ValidationError("--drain-seconds must be from 0 to 3600, got \(value)") }
    }

    /// The autoscaler's base URL from `flag`, nil when the flag is not given.
    @discardableResult
    public static func autoscalerURL(_ text: String?, flag: String = "--autoscaler-url") throws -> AutoscalerURL? {
        guard let text else { return nil }
        guard let url = AutoscalerURL(text) else {
            throw ValidationError("\(flag) must look like http://HOST:PORT[/PREFIX], got \"\(text)\"")
        }
        return url
    }

    public static func logLevel(_ text: String) throws {
        guard Logger.Level(rawValue: text) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got \"\(text)\"")
        }
    }
}
