import Foundation
import Testing
import ThawTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A port already in use is said before anything starts, naming the port and the flag. (Before,
/// `thaw up` printed its banner, started the autoscaler, then failed with only
/// "bind(descriptor:ptr:bytes:): Address already in use".)
@Suite struct BusyPortTests {
    /// A socket listening on a free loopback port, held while the test runs.
    static func occupiedPort() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 1) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure("cannot listen on a loopback port") }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func thawUpOnABusyPortSaysWhichPortAndFlagBeforeItStartsAnything() throws {
        let (descriptor, port) = try Self.occupiedPort()
        defer { close(descriptor) }
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/digits/mlservice.yaml").path
        let thaw = try TestProcess.executable("thaw").path
        let run = try CommandRun.run([thaw, "up", example, "--port", String(port)])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--port \(port): something already listens on 127.0.0.1:\(port)"), "\(run.stderr)")
        #expect(!run.stdout.contains("thaw up: activator"), "no banner for a cluster that cannot start: \(run.stdout)")
        #expect(!run.stderr.contains("thaw-autoscaler listening"), "nothing started")
    }
}
