#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Foundation
import Synchronization

/// Free loopback ports for servers that bind them a little later. Each socket stays bound until all
/// are known, so one call never returns the same port twice, and none of the last `remembered`
/// ports handed out is handed out again by this process: callers (a plan's service ports, each
/// replica's three ports) take ports in separate calls and bind them later. Only recent ones are
/// remembered, so a long run never runs out.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`): the ports binding
/// port 0 gives are the ones outgoing connections take as their source ports, so one handed out
/// from there could be taken by any process's next connection before its server binds it.
public enum FreePort {
    private struct Recent {
        var ports: Set<Int> = []
        var order: [Int] = []
    }
    private static let recent = Mutex(Recent())
    static let remembered = 4096

    /// Listening ports to try: from 10000 up to the start of the ephemeral range. Where that range
    /// starts too low to leave room, 0: the kernel picks, as before.
    static let listeningRange: Range<Int>? = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        return ephemeralStart - 10000 >= 2000 ? 10000..<ephemeralStart : nil
    }()

    private static func candidate() -> UInt16 {
        listeningRange.map { UInt16(Int.random(in: $0)) } ?? 0
    }

    public static func take(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts <= count + 1000 else { throw FreePortError() }
            #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            guard fd >= 0 else { throw FreePortError() }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = Self.candidate().bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
                }
            }
            guard bound else {
                // Taken: try another candidate (with no range, the kernel's own choice cannot be taken).
                guard listeningRange != nil else { throw FreePortError() }
                continue
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            // The socket stays bound either way, so the kernel offers another port next time round.
            let fresh = recent.withLock { recent in
                guard recent.ports.insert(port).inserted else { return false }
                recent.order.append(port)
                if recent.order.count > remembered { recent.ports.remove(recent.order.removeFirst()) }
                return true
            }
            if fresh { ports.append(port) }
        }
        return ports
    }
}

public struct FreePortError: Error, CustomStringConvertible {
    public var description: String { "cannot bind a loopback socket to find a free port" }
}
