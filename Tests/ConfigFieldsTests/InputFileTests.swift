import ConfigFields
import Foundation
import Testing

/// Every file Thaw reads is bounded (issue 14: "document size caps").
@Suite struct InputFileTests {
    @Test func anEndlessFileIsRefusedAtTheLimit() throws {
        let started = ContinuousClock.now
        #expect(throws: ConfigError(file: "/dev/zero", "the MLService file is larger than 1 MiB, the most Thaw reads; is this the right file?")) {
            _ = try InputFile.text(at: "/dev/zero", what: "the MLService file", limit: 1024 * 1024)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func aFileAtTheLimitIsReadAndOneByteMoreIsNot() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("input-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try String(repeating: "a", count: 4096).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try InputFile.text(at: path, what: "x", limit: 4096).count == 4096)
        #expect(throws: ConfigError.self) { _ = try InputFile.text(at: path, what: "x", limit: 4095) }
    }

    @Test func aMissingFileOrBinaryIsSaidPlainly() throws {
        #expect(throws: ConfigError(file: "/no/such/file.yaml", "cannot read the routing file: no such file")) {
            _ = try FieldReader.document(contentsOf: "/no/such/file.yaml", what: "the routing file", expected: "targets")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("binary-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data([0xff, 0xfe, 0x00, 0xc3]))
        #expect(throws: ConfigError(file: path, "x is not UTF-8 text")) { _ = try InputFile.text(at: path, what: "x") }
    }
}
