import ActivatorCore
import Testing
import ThawVocabulary

@Suite struct RoutingTableTests {
    static let config = RoutingConfig(
        targets: [
            TargetConfig(name: "mnist-v1", hosts: ["mnist-v1.local"]),
            TargetConfig(name: "mnist-v2", hosts: ["mnist-v2.local"]),
            // Registered shortest prefix first, then longest, then middle: order in the file must not matter.
            TargetConfig(name: "api", hosts: ["models.local"], pathPrefix: "/"),
            TargetConfig(name: "api-v2-infer", hosts: ["models.local"], pathPrefix: "/v2/models/mnist/infer"),
            TargetConfig(name: "api-v2", hosts: ["models.local"], pathPrefix: "/v2/"),
            TargetConfig(name: "only-v1", hosts: ["narrow.local"], pathPrefix: "/v1/"),
            TargetConfig(name: "ipv6", hosts: ["[::1]"]),
        ],
        services: [
            ServiceConfig(name: "mnist", hosts: ["mnist.local", "MNIST.example.com"], defaultTarget: "mnist-v1",
                          canaryTarget: "mnist-v2", canaryTrafficPercent: 20),
        ])

    static let mnist = RoutingTable.Destination.service(name: "mnist", defaultTarget: "mnist-v1",
                                                        canaryTarget: "mnist-v2", canaryPercent: 20)

    @Test func routesTargetAndServiceHosts() {
        let table = RoutingTable(Self.config)
        #expect(table.destination(host: "mnist-v1.local", path: "/v2/models/mnist/infer") == .target("mnist-v1"))
        #expect(table.destination(host: "mnist-v2.local", path: "/") == .target("mnist-v2"))
        #expect(table.destination(host: "mnist.local", path: "/v2/models/mnist/infer") == Self.mnist)
        #expect(table.destination(host: "mnist.example.com", path: "/") == Self.mnist)
    }

    @Test(arguments: ["Mnist.Local:8080", "MNIST.LOCAL", "mnist.local.", "Mnist.Local.:443", "mnist.local:80"])
    func hostMatchesCaseInsensitivelyWithoutPortOrTrailingDot(host: String) {
        let table = RoutingTable(Self.config)
        #expect(table.destination(host: host, path: "/v1/models") == Self.mnist)
    }

    @Test func normalisesHosts() {
        #expect(HostName.normalized("Mnist.Local:8080") == "mnist.local")
        #expect(HostName.normalized("mnist.local.") == "mnist.local")
        #expect(HostName.normalized("Mnist.Local.:8080") == "mnist.local")
        #expect(HostName.normalized("[::1]:8080") == "[::1]")
        #expect(HostName.normalized("[::1]") == "[::1]")
        #expect(HostName.normalized("EXAMPLE") == "example")
    }

    @Test func bracketedIPv6HostMatchesWithAndWithoutPort() {
        let table = RoutingTable(Self.config)
        #expect(table.destination(host: "[::1]:8080", path: "/") == .target("ipv6"))
        #expect(table.destination(host: "[::1]", path: "/") == .target("ipv6"))
    }

    @Test func longestPathPrefixWins() {
        let table = RoutingTable(Self.config)
        #expect(table.destination(host: "models.local", path: "/v2/models/mnist/infer") == .target("api-v2-infer"))
        #expect(table.destination(host: "models.local", path: "/v2/models/mnist/ready") == .target("api-v2"))
        #expect(table.destination(host: "models.local", path: "/v2/") == .target("api-v2"))
        #expect(table.destination(host: "models.local", path: "/v2") == .target("api"))
        #expect(table.destination(host: "models.local", path: "/v1/models") == .target("api"))
        #expect(table.destination(host: "Models.Local:9000", path: "/v2/health") == .target("api-v2"))
    }

    @Test func prefixesMatchWholePathSegments() {
        let table = RoutingTable(RoutingConfig(targets: [
            TargetConfig(name: "root", hosts: ["s.local"], pathPrefix: "/"),
            TargetConfig(name: "v2", hosts: ["s.local"], pathPrefix: "/v2"),
        ]))
        #expect(table.destination(host: "s.local", path: "/v2") == .target("v2"))
        #expect(table.destination(host: "s.local", path: "/v2/models") == .target("v2"))
        #expect(table.destination(host: "s.local", path: "/v2?verbose=1") == .target("v2"))
        #expect(table.destination(host: "s.local", path: "/v2beta/models") == .target("root"), "/v2 is not a prefix of the segment v2beta")
    }

    @Test func longestPrefixWinsWhateverTheRegistrationOrder() {
        let forward = RoutingTable(RoutingConfig(targets: [
            TargetConfig(name: "short", hosts: ["h.local"], pathPrefix: "/a"),
            TargetConfig(name: "long", hosts: ["h.local"], pathPrefix: "/a/b"),
        ]))
        let reversed = RoutingTable(RoutingConfig(targets: [
            TargetConfig(name: "long", hosts: ["h.local"], pathPrefix: "/a/b"),
            TargetConfig(name: "short", hosts: ["h.local"], pathPrefix: "/a"),
        ]))
        for table in [forward, reversed] {
            #expect(table.destination(host: "h.local", path: "/a/b/c") == .target("long"))
            #expect(table.destination(host: "h.local", path: "/a/c") == .target("short"))
        }
    }

    @Test func unknownHostOrUnmatchedPathIsRefused() {
        let table = RoutingTable(Self.config)
        #expect(table.destination(host: "evil.example.com", path: "/") == nil)
        #expect(table.destination(host: "", path: "/") == nil)
        #expect(table.destination(host: "mnist.local.evil.com", path: "/") == nil)
        #expect(table.destination(host: "narrow.local", path: "/v2/models") == nil)
        #expect(table.destination(host: "narrow.local", path: "/v1/models") == .target("only-v1"))
        #expect(RoutingTable(RoutingConfig()).destination(host: "mnist.local", path: "/") == nil)
    }

    @Test func listsNormalisedHostsSorted() {
        let table = RoutingTable(Self.config)
        #expect(table.hosts == ["[::1]", "mnist-v1.local", "mnist-v2.local", "mnist.example.com", "mnist.local",
                                "models.local", "narrow.local"])
    }

    @Test func targetDestinationResolvesToItsName() {
        for draw in [0, 1, 7, UInt64.max] as [UInt64] {
            #expect(RoutingTable.target(for: .target("api"), draw: draw) == "api")
        }
    }

    @Test func serviceAtZeroPercentAlwaysGoesToDefault() {
        let destination = RoutingTable.Destination.service(name: "s", defaultTarget: "stable", canaryTarget: "canary",
                                                           canaryPercent: 0)
        let picks = (0..<2000 as Range<UInt64>).map { RoutingTable.target(for: destination, draw: $0) }
        #expect(picks.allSatisfy { $0 == "stable" })
    }

    @Test func serviceAtHundredPercentAlwaysGoesToCanary() {
        let destination = RoutingTable.Destination.service(name: "s", defaultTarget: "stable", canaryTarget: "canary",
                                                           canaryPercent: 100)
        let picks = (0..<2000 as Range<UInt64>).map { RoutingTable.target(for: destination, draw: $0) }
        #expect(picks.allSatisfy { $0 == "canary" })
    }

    @Test func serviceWithoutCanaryAlwaysGoesToDefault() {
        let destination = RoutingTable.Destination.service(name: "s", defaultTarget: "stable", canaryTarget: nil,
                                                           canaryPercent: 50)
        let picks = (0..<2000 as Range<UInt64>).map { RoutingTable.target(for: destination, draw: $0) }
        #expect(picks.allSatisfy { $0 == "stable" })
    }

    @Test func serviceSplitFollowsCanarySplit() throws {
        let table = RoutingTable(Self.config)
        let destination = try #require(table.destination(host: "mnist.local", path: "/"))
        var canary = 0
        for draw in 0..<5000 as Range<UInt64> {
            let target = RoutingTable.target(for: destination, draw: draw)
            #expect(target == (CanarySplit.choosesCanary(draw: draw, percent: 20) ? "mnist-v2" : "mnist-v1"))
            if target == "mnist-v2" { canary += 1 }
        }
        #expect(abs(Double(canary) / 5000 - 0.20) <= 0.01)
    }
}
