import Foundation
import FuzzChecks
import Testing

/// Every input in Fuzz/corpus (the seeds, and what `make fuzz` runs found) through its check: the
/// fuzzers' finds stay fixed. A check traps on a violation, so a regression fails this run loudly.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    @Test(arguments: FuzzTarget.allCases)
    func everyCorpusInputPassesItsCheck(target: FuzzTarget) throws {
        let directory = Self.corpus.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count >= 3, "Fuzz/corpus/\(target.rawValue) holds its seeds")
        for file in files {
            target.check(Array(try Data(contentsOf: directory.appendingPathComponent(file))))
        }
    }
}
