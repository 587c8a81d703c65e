import Foundation
import PrometheusClient
import RemoteReadCodec
import Testing

/// What one answer may cost the collector, whatever the source sends. (Before: an endless
/// remote-read body was buffered to 2.1 GB within its 4 s timeout, and a snappy header claiming
/// 500 MB was allocated, 534 MB each round.)
@Suite(.serialized)
struct AnswerLimitTests {
    @Test func anAnswerLargerThanTheLimitIsRefusedAtTheLimit() throws {
        let huge = [UInt8](repeating: 0x41, count: SourceConnection.maxBodyBytes + 1024 * 1024)
        let fake = try FakeSource { _ in FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType, body: huge) }
        let error = try #require(throws: SourceError.self) {
            try RemoteReadClient(baseURL: fake.url).read([ProbeHistory.query], preferChunks: false)
        }
        #expect(error.kind == "body")
        #expect("\(error)".contains("larger than 64 MiB"), "\(error)")
        let scraped = try #require(throws: SourceError.self) {
            try ExporterScraper(connection: SourceConnection(baseURL: fake.url + "/metrics")).scrape()
        }
        #expect("\(scraped)".contains("larger than 64 MiB"), "the exporter page is capped too: \(scraped)")
    }

    @Test func aSnappyHeaderClaimingHalfAGigabyteIsRefusedBeforeAnythingIsAllocated() throws {
        // A snappy block starts with its uncompressed length as a varint: 500 MB, then a few bytes.
        let claim = ReadAnswer.varint(500_000_000) + [0x00, 0x41]
        let fake = try FakeSource { _ in FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType, body: claim) }
        let error = try #require(throws: SourceError.self) {
            try RemoteReadClient(baseURL: fake.url).read([ProbeHistory.query], preferChunks: false)
        }
        #expect("\(error)".contains("would expand to 500000000 bytes, over the limit of \(SourceConnection.maxUncompressedBytes)"), "\(error)")
    }
}
