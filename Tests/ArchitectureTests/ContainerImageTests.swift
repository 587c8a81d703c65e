import Foundation
import Testing
import ThawTestSupport

/// The Dockerfile cannot be built on these machines; what can be checked is that it builds and
/// copies executables the package has, and that every program the manifests run is in the image.
@Suite struct ContainerImageTests {
    static let root = ModuleGraphTests.root

    static func dockerfile() throws -> String {
        try String(contentsOf: root.appendingPathComponent("Dockerfile"), encoding: .utf8)
    }

    /// The names after `--product` in the build, and after `.build/release/` in the copy.
    static func words(after marker: String, in text: String) -> Set<String> {
        var names: Set<String> = []
        var rest = Substring(text)
        while let range = rest.range(of: marker) {
            rest = rest[range.upperBound...]
            names.insert(String(rest.prefix { !$0.isWhitespace && $0 != "\\" }))
        }
        return names
    }

    @Test func everyBuiltAndCopiedExecutableIsAProductOfThePackage() throws {
        let text = try Self.dockerfile()
        let built = Self.words(after: "--product ", in: text)
        let copied = Self.words(after: ".build/release/", in: text)
        #expect(!built.isEmpty)
        #expect(built == copied, "build \(built.sorted()), copy \(copied.sorted())")
        let products = try #require(try ModuleGraphTests.dumpedManifest()["products"] as? [[String: Any]])
        let executables = Set(products.compactMap { product -> String? in
            guard let type = product["type"] as? [String: Any], type["executable"] != nil else { return nil }
            return product["name"] as? String
        })
        #expect(built.isSubset(of: executables), "not executable products of Package.swift: \(built.subtracting(executables).sorted())")
    }

    @Test func everyProgramTheManifestsRunIsInTheImage() throws {
        let copied = Self.words(after: ".build/release/", in: try Self.dockerfile())
        let directory = Self.root.appendingPathComponent("manifests")
        var commands: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".yaml") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            commands.formUnion(Self.words(after: "command: [\"", in: text).map { $0.replacingOccurrences(of: "\"]", with: "") })
        }
        #expect(commands == ["thaw-activator", "thaw-autoscaler", "thaw-collector"], "\(commands.sorted())")
        #expect(commands.isSubset(of: copied))
        #expect(copied.contains("thaw-queue"), "model pods run the sidecar from this image")
    }
}
