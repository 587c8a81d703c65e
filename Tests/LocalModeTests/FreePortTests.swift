#if canImport(Glibc)
import Glibc
#endif
@testable import ControlHTTP
import Foundation
import Testing

/// Ports for servers that bind a moment later: distinct, never repeated, and outside the range the
/// kernel gives outgoing connections as source ports (where any connection could take one first).
@Suite struct FreePortTests {
    @Test func portsAreDistinctFreshAndBelowTheEphemeralRange() throws {
        let range = try #require(FreePort.listeningRange, "this machine's ip_local_port_range leaves room below it")
        let text = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let ephemeralStart = try #require(text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) })
        #expect(range.upperBound == ephemeralStart)

        let first = try FreePort.take(40), second = try FreePort.take(40)
        #expect(Set(first).count == 40 && Set(first).isDisjoint(with: second))
        for port in first + second {
            #expect(range.contains(port), "\(port) is in the ephemeral range \(ephemeralStart)…")
        }
        // Each is free to bind right away.
        for port in first.prefix(5) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            #expect(bound, "port \(port) could not be bound")
        }
    }
}
