import ConfigFields
import RoutingFile
import Testing
import ThawVocabulary

@Suite struct RoutingConfigTests {
    static let file = "routes.yaml"

    /// The example from `thaw-activator --help`, with the canary target it names added so it validates.
    static let example = """
        targets:
          - name: mnist-v1
            hosts: [mnist-v1.local]
            endpoints: ["127.0.0.1:9001"]   # may be empty: scaled to zero
            containerConcurrency: 0         # per-endpoint capacity, 0 = unlimited
            readinessPath: /v2/models/mnist/ready
            queueLimit: 10000
            timeoutSeconds: 300
          - name: mnist-v2
            hosts: [mnist-v2.local, "Mnist-V2.Example:8080"]
            pathPrefix: /v2/
            endpoints: ["127.0.0.1:9002", "[::1]:9003"]
            containerConcurrency: 4
            readinessPath: /ready
            queueLimit: 50
            timeoutSeconds: 2.5
        services:
          - name: mnist
            hosts: [mnist.local]
            default: mnist-v1
            canary: mnist-v2
            canaryTrafficPercent: 20
        """

    /// Parses and expects a `ConfigError`, returning it for inspection.
    func parseError(_ yaml: String, file: String = Self.file,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> ConfigError {
        try #require(throws: ConfigError.self, sourceLocation: sourceLocation) {
            try RoutingConfig.parse(yaml, file: file)
        }
    }

    // MARK: Valid files

    @Test func parsesTheDocumentedExample() throws {
        let config = try RoutingConfig.parse(Self.example, file: Self.file)
        try #require(config.targets.count == 2)
        try #require(config.services.count == 1)

        let v1 = config.targets[0]
        #expect(v1.name == "mnist-v1")
        #expect(v1.hosts == ["mnist-v1.local"])
        #expect(v1.pathPrefix == "/")
        #expect(v1.endpoints == [EndpointAddress(host: "127.0.0.1", port: 9001)])
        #expect(v1.containerConcurrency == 0)
        #expect(v1.readinessPath == "/v2/models/mnist/ready")
        #expect(v1.queueLimit == 10_000)
        #expect(v1.timeoutSeconds == 300)
        #expect(v1.failure == nil)

        let v2 = config.targets[1]
        #expect(v2.name == "mnist-v2")
        #expect(v2.hosts == ["mnist-v2.local", "Mnist-V2.Example:8080"])
        #expect(v2.pathPrefix == "/v2/")
        #expect(v2.endpoints == [EndpointAddress(host: "127.0.0.1", port: 9002), EndpointAddress(host: "::1", port: 9003)])
        #expect(v2.containerConcurrency == 4)
        #expect(v2.readinessPath == "/ready")
        #expect(v2.queueLimit == 50)
        #expect(v2.timeoutSeconds == 2.5)

        let service = config.services[0]
        #expect(service == ServiceConfig(name: "mnist", hosts: ["mnist.local"], pathPrefix: "/",
                                         defaultTarget: "mnist-v1", canaryTarget: "mnist-v2", canaryTrafficPercent: 20))
    }

    /// The file a process writes for a separate activator reads back as the same table, every
    /// field set away from its default.
    @Test func theWrittenFileReadsBackAsTheSameTable() throws {
        let endpoint = try #require(EndpointAddress("127.0.0.1:9001"))
        let config = RoutingConfig(targets: [
            TargetConfig(name: "shop-a", hosts: ["shop-a.local"], pathPrefix: "/v2", endpoints: [endpoint], containerConcurrency: 4,
                         readinessPath: "/ready", queueLimit: 40, timeoutSeconds: 12.5, failure: "crash-looping: exited with status 1"),
            TargetConfig(name: "shop-b"),
        ], services: [
            ServiceConfig(name: "shop", hosts: ["shop.local"], pathPrefix: "/v2", defaultTarget: "shop-a", canaryTarget: "shop-b",
                          canaryTrafficPercent: 20),
        ])
        #expect(try RoutingConfig.parse(config.fileText, file: "routes.json") == config, "file:\n\(config.fileText)")
    }

    @Test func appliesDefaultsForOmittedFields() throws {
        let config = try RoutingConfig.parse("""
            targets:
              - name: bare
            services:
              - name: svc
                hosts: [svc.local]
                default: bare
            """, file: Self.file)
        #expect(config.targets == [TargetConfig(name: "bare")])
        let target = try #require(config.targets.first)
        #expect(target.hosts.isEmpty)
        #expect(target.endpoints.isEmpty)
        #expect(target.pathPrefix == "/")
        #expect(target.readinessPath == "/")
        #expect(target.containerConcurrency == 0)
        #expect(target.queueLimit == 10_000)
        #expect(target.queueLimit == TargetConfig.defaultQueueLimit)
        #expect(target.timeoutSeconds == 300)
        #expect(target.timeoutSeconds == TargetConfig.defaultTimeoutSeconds)
        #expect(target.failure == nil)

        let service = try #require(config.services.first)
        #expect(service.pathPrefix == "/")
        #expect(service.canaryTarget == nil)
        #expect(service.canaryTrafficPercent == 0)
    }

    @Test func parsesJSONAndAnEmptyTargetList() throws {
        let json = try RoutingConfig.parse("""
            {"targets": [{"name": "a", "endpoints": ["10.0.0.7:8080"], "failure": "CrashLoopBackOff"}]}
            """, file: "routes.json")
        #expect(json.targets == [TargetConfig(name: "a", endpoints: [EndpointAddress(host: "10.0.0.7", port: 8080)],
                                              failure: "CrashLoopBackOff")])
        #expect(json.services.isEmpty)

        let empty = try RoutingConfig.parse("targets: []\n", file: Self.file)
        #expect(empty == RoutingConfig())
    }

    @Test func allowsOneHostWithDifferentPathPrefixes() throws {
        let config = try RoutingConfig.parse("""
            targets:
              - name: api
                hosts: [models.local]
              - name: v2
                hosts: [models.local]
                pathPrefix: /v2/
            """, file: Self.file)
        #expect(config.targets.map(\.pathPrefix) == ["/", "/v2/"])
    }

    @Test func aTargetSaysWhatItsReplicasSpeak() throws {
        let config = try RoutingConfig.parse("""
            targets:
              - name: triton
                endpoints: ["127.0.0.1:8001"]
                protocol: h2c
                readinessPath: /grpc.health.v1.Health/Check
              - name: tfserving
                protocol: grpc
              - name: web
            """, file: Self.file)
        #expect(config.targets.map(\.protocol) == [.h2c, .h2c, .http1], "grpc names h2c; HTTP/1.1 when unset")
    }

    @Test func anUnknownProtocolIsRefusedAtItsLine() throws {
        let error = try parseError("""
            targets:
              - name: triton
                protocol: http3
            """)
        #expect(error.description.hasPrefix("\(Self.file):3: "), "\(error)")
        #expect(error.message.contains("protocol") && error.message.contains("h2c") && error.message.contains("http3"), "\(error)")
    }

    // MARK: Field errors

    @Test func unknownFieldNamesItAndListsTheAllowedOnes() throws {
        let error = try parseError("""
            targets:
              - name: mnist-v1
                endpoint: ["127.0.0.1:9001"]
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("unknown field \"targets[0].endpoint\""))
        for field in ["name", "hosts", "pathPrefix", "endpoints", "containerConcurrency", "readinessPath",
                      "queueLimit", "timeoutSeconds", "failure"] {
            #expect(error.message.contains("targets[0].\(field)"), "allowed field \(field) missing from: \(error.message)")
        }
        #expect(error.description.hasPrefix("\(Self.file):3: "), "the line of the unknown field, not the file's start")
    }

    @Test func unknownTopLevelAndServiceFieldsAreRejected() throws {
        let top = try parseError("targets: []\nroutes: []\n")
        #expect(top.message.contains("unknown field \"routes\""))
        #expect(top.message.contains("targets, services"))

        let service = try parseError("""
            targets: [{name: a}]
            services:
              - name: s
                default: a
                canaryPercent: 5
            """)
        #expect(service.message.contains("unknown field \"services[0].canaryPercent\""))
        #expect(service.message.contains("services[0].canaryTrafficPercent"))
    }

    @Test func endpointWithoutPortNamesTheEntry() throws {
        let error = try parseError("""
            targets:
              - name: mnist-v1
                endpoints: ["127.0.0.1:9001", "127.0.0.1"]
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("targets[0].endpoints[1]"))
        #expect(error.message.contains("host:port"))
        #expect(error.message.contains("\"127.0.0.1\""))
        #expect(error.description.hasPrefix("\(Self.file):3: "), "the line of the list's entry")
    }

    @Test func endpointWithPortOutOfRangeIsRejected() throws {
        let error = try parseError("""
            targets:
              - name: a
                endpoints: ["127.0.0.1:70000"]
            """)
        #expect(error.message.contains("targets[0].endpoints[0]"))
        #expect(error.message.contains("127.0.0.1:70000"))
    }

    @Test(arguments: [120.0, -1.0, 100.5])
    func canaryPercentOutsideZeroToHundredIsRejected(percent: Double) throws {
        let error = try parseError("""
            targets: [{name: a}, {name: b}]
            services:
              - name: s
                hosts: [s.local]
                default: a
                canary: b
                canaryTrafficPercent: \(percent)
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("services[0].canaryTrafficPercent"))
        #expect(error.message.contains("from 0 to 100"))
        #expect(error.message.contains(NumberText.plain(percent)))
    }

    @Test func canaryPercentBoundsAreAccepted() throws {
        for percent in [0, 100] {
            let config = try RoutingConfig.parse("""
                targets: [{name: a}, {name: b}]
                services: [{name: s, hosts: [s.local], default: a, canary: b, canaryTrafficPercent: \(percent)}]
                """, file: Self.file)
            #expect(config.services.first?.canaryTrafficPercent == Double(percent))
        }
    }

    @Test func canaryPercentWithoutCanaryIsRejected() throws {
        let error = try parseError("""
            targets: [{name: a}]
            services:
              - name: s
                hosts: [s.local]
                default: a
                canaryTrafficPercent: 20
            """)
        #expect(error.message.contains("services[0].canaryTrafficPercent"))
        #expect(error.message.contains("is 20"))
        #expect(error.message.contains("\"services[0].canary\""))
    }

    @Test func defaultNamingAnUnknownTargetIsRejected() throws {
        let error = try parseError("""
            targets: [{name: mnist-v1}, {name: mnist-v2}]
            services:
              - name: mnist
                hosts: [mnist.local]
                default: mnist-v3
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("services[0].default"))
        #expect(error.message.contains("\"mnist-v3\" is not a target"))
        #expect(error.message.contains("mnist-v1, mnist-v2"))
    }

    @Test func canaryNamingAnUnknownTargetIsRejected() throws {
        let error = try parseError("""
            targets: [{name: mnist-v1}]
            services:
              - {name: mnist, hosts: [mnist.local], default: mnist-v1, canary: mnist-v2, canaryTrafficPercent: 20}
            """)
        #expect(error.message.contains("services[0].canary"))
        #expect(error.message.contains("\"mnist-v2\" is not a target"))
    }

    @Test func missingNameOrDefaultIsRejected() throws {
        let target = try parseError("targets:\n  - hosts: [a.local]\n")
        #expect(target.message.contains("missing field \"targets[0].name\""))

        let emptyName = try parseError("targets:\n  - name: \"\"\n")
        #expect(emptyName.message.contains("missing field \"targets[0].name\""))

        let service = try parseError("targets: [{name: a}]\nservices:\n  - name: s\n    hosts: [s.local]\n")
        #expect(service.message.contains("missing field \"services[0].default\""))
    }

    @Test func duplicateTargetNamesAreRejected() throws {
        let error = try parseError("""
            targets:
              - name: a
                hosts: [one.local]
              - name: b
              - name: a
                hosts: [two.local]
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("targets[2].name"))
        #expect(error.message.contains("\"a\" is used by two targets"))
    }

    @Test func sameHostClaimedByTwoTargetsIsRejected() throws {
        let error = try parseError("""
            targets:
              - name: a
                hosts: [shared.local]
              - name: b
                hosts: [shared.local]
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("host \"shared.local\""))
        #expect(error.message.contains("target \"a\""))
        #expect(error.message.contains("target \"b\""))
    }

    @Test func hostClashIsFoundAfterNormalising() throws {
        let error = try parseError("""
            targets:
              - name: a
                hosts: [shared.local.]
              - name: b
                hosts: ["Shared.Local:8080"]
            """)
        #expect(error.message.contains("\"Shared.Local:8080\""))
        #expect(error.message.contains("target \"a\""))
        #expect(error.message.contains("target \"b\""))
    }

    @Test func serviceHostClashingWithATargetHostIsRejected() throws {
        let error = try parseError("""
            targets:
              - name: mnist-v1
                hosts: [mnist.local]
            services:
              - name: mnist
                hosts: [mnist.local]
                default: mnist-v1
            """)
        #expect(error.message.contains("target \"mnist-v1\""))
        #expect(error.message.contains("service \"mnist\""))
    }

    @Test(arguments: [0.0, -5.0, 86_401.0])
    func timeoutOutOfRangeIsRejected(timeout: Double) throws {
        let error = try parseError("""
            targets:
              - name: a
                timeoutSeconds: \(NumberText.plain(timeout))
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("targets[0].timeoutSeconds"))
        #expect(error.message.contains("got \(NumberText.plain(timeout))"))
    }

    @Test func timeoutUpperBoundIsAccepted() throws {
        let config = try RoutingConfig.parse("targets: [{name: a, timeoutSeconds: 86400}]", file: Self.file)
        #expect(config.targets.first?.timeoutSeconds == 86_400)
    }

    @Test func readinessPathWithoutLeadingSlashIsRejected() throws {
        let error = try parseError("""
            targets:
              - name: a
                readinessPath: v2/models/mnist/ready
            """)
        #expect(error.file == Self.file)
        #expect(error.message.contains("targets[0].readinessPath"))
        #expect(error.message.contains("must start with \"/\""))
        #expect(error.message.contains("\"v2/models/mnist/ready\""))
    }

    @Test func pathPrefixWithoutLeadingSlashIsRejected() throws {
        let error = try parseError("""
            targets: [{name: a}]
            services: [{name: s, hosts: [s.local], pathPrefix: api, default: a}]
            """)
        #expect(error.message.contains("services[0].pathPrefix"))
    }

    @Test func countsMustBeWholeAndNotNegative() throws {
        let negative = try parseError("targets: [{name: a, containerConcurrency: -1}]")
        #expect(negative.message.contains("targets[0].containerConcurrency"))
        let fraction = try parseError("targets: [{name: a, queueLimit: 2.5}]")
        #expect(fraction.message.contains("targets[0].queueLimit"))
        let text = try parseError("targets: [{name: a, queueLimit: lots}]")
        #expect(text.message.contains("targets[0].queueLimit"))
        #expect(text.message.contains("must be a number"))
    }

    @Test func wrongShapesAreRejected() throws {
        let list = try parseError("- name: a\n")
        #expect(list.message.contains("\"targets\""))
        let notList = try parseError("targets: {name: a}\n")
        #expect(notList.message.contains("field \"targets\" must be a list"))
        let notObject = try parseError("targets: [a]\n")
        #expect(notObject.message.contains("targets[0]"))
        let invalid = try parseError("targets: [\n")
        #expect(invalid.message.contains("not valid YAML or JSON"))
        #expect(invalid.file == Self.file)
    }

    @Test func loadNamesAnUnreadableFile() throws {
        let path = "/nonexistent/thaw-routing-\(UInt64.random(in: 0...UInt64.max)).yaml"
        let error = try #require(throws: ConfigError.self) { try RoutingConfig.load(contentsOf: path) }
        #expect(error.file == path)
        #expect(error.message.contains("cannot read the routing file"))
    }

    @Test func validateChecksConfigsBuiltInCode() throws {
        let config = RoutingConfig(targets: [TargetConfig(name: "a")],
                                   services: [ServiceConfig(name: "s", hosts: ["s.local"], defaultTarget: "a",
                                                            canaryTarget: "missing", canaryTrafficPercent: 10)])
        let error = try #require(throws: ConfigError.self) { try config.validate(file: "endpoint-source") }
        #expect(error.file == "endpoint-source")
        #expect(error.message.contains("services[0].canary"))
    }
}
