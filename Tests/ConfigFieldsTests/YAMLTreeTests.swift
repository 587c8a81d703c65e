@testable import ConfigFields
import Foundation
import MLService
import RoutingFile
import Simulation
import Testing
import ThawVocabulary

/// What Yams, asked for values directly, could not survive: a key that is a map or a list (it
/// trapped: `make fuzz` found it in the routing-file reader) and an alias bomb (410 bytes grew to
/// gigabytes). Every Thaw reader of YAML refuses both, at once, naming the line.
@Suite struct YAMLTreeTests {
    /// Nine aliases of nine: 9^9 (387 million) values from 342 bytes.
    static let aliasBomb = (["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        + zip("bcdefghi", "abcdefgh").map { name, previous in
            "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]"
        }).joined(separator: "\n") + "\n"
    static let complexKey = "targets:\n  - name: x\n    ? [a]\n    : 1\n"

    @Test func aKeyThatIsAListOrAMapIsRefusedWithItsLine() throws {
        for text in [Self.complexKey, "targets:\n    ? name: mnist-v1\n    hosts: \n", "{? {a: 1}: b}"] {
            let refusal = try #require(throws: YAMLTree.Refusal.self) { try YAMLTree.load(text) }
            #expect(refusal.message.contains("a key must be plain text"))
            #expect(refusal.line != nil)
        }
        let error = try #require(throws: ConfigError.self) { try RoutingConfig.parse(Self.complexKey, file: "routes.yaml") }
        #expect("\(error)".contains("routes.yaml"))
        #expect("\(error)".contains("line 3"))
    }

    @Test func anAliasBombIsRefusedBeforeItGrowsInEveryReader() throws {
        let start = ContinuousClock.now
        let refusal = try #require(throws: YAMLTree.Refusal.self) { try YAMLTree.load(Self.aliasBomb) }
        #expect(refusal.message.contains("anchors and aliases may repeat a value, not multiply it"))
        #expect(throws: ConfigError.self) { try RoutingConfig.parse("targets: []\n" + Self.aliasBomb, file: "routes.yaml") }
        #expect(throws: ConfigError.self) {
            try MLServiceFile.parse(Self.aliasBomb, file: "mlservice.yaml", baseDirectory: "/tmp")
        }
        #expect(throws: (any Error).self) { try SimulationPolicy(text: Self.aliasBomb, file: "policy.yaml") }
        #expect(ContinuousClock.now - start < .seconds(5), "refused at once, not after expanding")
    }

    @Test func aBase60NumberTooLargeForAnIntegerIsRefusedNotATrap() throws {
        // Found by `make fuzz`: Yams multiplied these without an overflow check.
        for text in ["x: -800000000000000000:0", "x: 1:0:0:0:0:0:0:0:0:0:0:0"] {
            let refusal = try #require(throws: YAMLTree.Refusal.self) { try YAMLTree.load(text) }
            #expect(refusal.message.contains("base-60"))
        }
        #expect(YAMLTree.overflowsAsBase60("1:0:0:0:0:0:0:0:0:0") == false, "60^10 fits")
        let fine = try #require(try YAMLTree.load("a: 1:30\nb: '-800000000000000000:0'\nc: 127.0.0.1:9001") as? [String: Any])
        #expect(fine["a"] as? Int == 90)
        #expect(fine["b"] as? String == "-800000000000000000:0")
    }

    @Test func aliasesThatRepeatAValueAreFine() throws {
        let text = "defaults: &defaults {timeoutSeconds: 30, queueLimit: 10}\n" + (0..<50).map { "t\($0): *defaults" }.joined(separator: "\n")
        let value = try #require(try YAMLTree.load(text) as? [String: Any])
        #expect(value.count == 51)
        #expect(try YAMLTree.load("") == nil)
    }
}
