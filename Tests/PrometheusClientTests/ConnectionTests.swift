import Foundation
import PrometheusClient
import RemoteReadCodec
import SeriesSignals
import Testing
import ThawTestSupport

/// A few samples for the auth and TLS tests, whose subject is the connection rather than the data.
enum ProbeHistory {
    static let labels = ["__name__": "thaw_probe", "pod": "digits-v1-a", "namespace": "ml"]
    static let points = (0..<20).map { SeriesPoint((1_750_000_000 + Int64($0) * 15) * 1000, Double($0 * 3 % 7)) }
    static let expected = [Series(labels: labels, points: points)]
    static let query = ReadQuery(matchers: [LabelMatch("__name__", .equal, "thaw_probe")],
                                 startMilliseconds: points[0].timestampMilliseconds, endMilliseconds: points[points.count - 1].timestampMilliseconds)

    static var openMetrics: String {
        let lines = points.map { "thaw_probe{namespace=\"ml\",pod=\"digits-v1-a\"} \($0.value) \($0.timestampMilliseconds / 1000)" }
        return (["# TYPE thaw_probe gauge"] + lines + ["# EOF"]).joined(separator: "\n") + "\n"
    }
}

/// Remote-read answers written by hand in the protobuf wire format (tag = field << 3 | wire type:
/// 0 varint, 1 fixed64, 2 length-delimited), so a fake source can serve them whole or broken.
enum ReadAnswer {
    static let samplesType = "application/x-protobuf"
    static let streamType = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    static func field(_ number: Int, varint value: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(value) }
    static func field(_ number: Int, double: Double) -> [UInt8] {
        varint(UInt64(number << 3 | 1)) + withUnsafeBytes(of: double.bitPattern.littleEndian, Array.init)
    }

    /// `Label` messages (name 1, value 2) as repeated field 1, sorted like Prometheus sends them.
    static func labels(_ labels: [String: String]) -> [UInt8] {
        labels.sorted { $0.key < $1.key }.flatMap { field(1, field(1, Array($0.key.utf8)) + field(2, Array($0.value.utf8))) }
    }

    /// A SAMPLES answer: one snappy block holding a `ReadResponse` (results 1 → timeseries 1 → labels 1,
    /// samples 2 → value 1, timestamp 2).
    static func samples(_ results: [[Series]]) -> [UInt8] {
        Snappy.compress(results.flatMap { result in
            field(1, result.flatMap { series in
                field(1, labels(series.labels) + series.points.flatMap {
                    field(2, field(1, double: $0.value) + field(2, varint: UInt64($0.timestampMilliseconds)))
                })
            })
        })
    }

    /// An XOR chunk of one sample: the 2-byte sample count, the timestamp as a zigzag varint and the
    /// value's 64 bits (the first sample is not XOR-ed with anything).
    static func oneSampleChunk(_ point: SeriesPoint) -> [UInt8] {
        [0, 1] + varint(UInt64(bitPattern: point.timestampMilliseconds << 1 ^ (point.timestampMilliseconds >> 63)))
            + withUnsafeBytes(of: point.value.bitPattern.bigEndian, Array.init)
    }

    /// A `ChunkedReadResponse` (chunked_series 1 → labels 1, chunks 2 → min 1, max 2, type 3, data 4;
    /// query_index 2) holding one series, one chunk per sample unless `chunks` are given.
    static func chunked(queryIndex: Int, _ series: Series, chunks: [(encoding: UInt64, data: [UInt8])]? = nil) -> [UInt8] {
        let chunks = chunks ?? series.points.map { (1, oneSampleChunk($0)) }
        let first = UInt64(series.points.first?.timestampMilliseconds ?? 0), last = UInt64(series.points.last?.timestampMilliseconds ?? 0)
        let encoded = chunks.flatMap { field(2, field(1, varint: first) + field(2, varint: last) + field(3, varint: $0.encoding) + field(4, $0.data)) }
        return field(1, labels(series.labels) + encoded) + field(2, varint: UInt64(queryIndex))
    }

    /// A stream frame: the message's length as a uvarint, its CRC32C big-endian, the message.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        let crc = crc32c(message)
        return varint(UInt64(message.count)) + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)] + message
    }

    /// CRC32-Castagnoli bit by bit, written apart from the client's table version.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}

extension SourceError {
    var statusCode: Int? {
        if case .status(_, let code, _) = self { return code }
        return nil
    }
}

/// Auth, TLS trust and headers against a real Prometheus, and credentials that rotate on a fake.
@Suite(.serialized)
struct ConnectionTests {
    /// bcrypt (cost 4) of `thaw-test-secret`, as Prometheus' web config wants passwords.
    static let passwordHash = "$2b$04$u6jCkeiAR3ZMuTqF0Imho.YeGEFLSh/iqBuNeLkyPL7qg0QjJoTye"

    @Test func basicAuthReadsWithTheRightPasswordOnly() async throws {
        let directory = try scratchDirectory("connection")
        defer { try? FileManager.default.removeItem(at: directory) }
        let prometheus = try await PrometheusServer(backfill: ProbeHistory.openMetrics, scrapesItself: false, webConfig: """
            basic_auth_users:
              thaw: \(Self.passwordHash)
            """)
        func client(_ password: SourceConnection.Password?) -> RemoteReadClient {
            RemoteReadClient(connection: SourceConnection(baseURL: prometheus.url, timeoutSeconds: 10,
                                                          basicAuth: password.map { SourceConnection.BasicAuth(username: "thaw", password: $0) }))
        }
        for preferChunks in [true, false] {
            #expect(try client(.value("thaw-test-secret")).read([ProbeHistory.query], preferChunks: preferChunks).results == [ProbeHistory.expected])
        }
        let wrong = #expect(throws: SourceError.self) { try client(.value("thaw-test-wrong")).read([ProbeHistory.query]) }
        #expect(wrong?.statusCode == 401, "\(String(describing: wrong))")
        let none = #expect(throws: SourceError.self) { try client(nil).read([ProbeHistory.query]) }
        #expect(none?.statusCode == 401, "\(String(describing: none))")

        let passwordFile = directory.appendingPathComponent("password")
        try "thaw-test-secret\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        #expect(try client(.file(SecretFile(path: passwordFile.path))).read([ProbeHistory.query]).results == [ProbeHistory.expected])
        let missing = directory.appendingPathComponent("no-such-password").path
        let unread = #expect(throws: SourceError.self) { try client(.file(SecretFile(path: missing))).read([ProbeHistory.query]) }
        #expect(unread?.kind == "credentials")
        #expect(unread?.description.contains(missing) == true, "\(String(describing: unread))")
    }

    @Test func httpsIsTrustedThroughTheCAFile() async throws {
        let directory = try scratchDirectory("connection")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try await TestCertificates(in: directory)
        let prometheus = try await PrometheusServer(backfill: ProbeHistory.openMetrics, scrapesItself: false, webConfig: """
            tls_server_config:
              cert_file: \(certificates.certificate)
              key_file: \(certificates.key)
            """, https: true)
        #expect(prometheus.url.hasPrefix("https://"))
        let trusted = SourceConnection(baseURL: prometheus.url, caFile: certificates.authority)
        for preferChunks in [true, false] {
            #expect(try RemoteReadClient(connection: trusted).read([ProbeHistory.query], preferChunks: preferChunks).results == [ProbeHistory.expected])
        }
        // The scraper shares the transport: Prometheus' own metrics page over the same TLS.
        let page = try ExporterScraper(connection: SourceConnection(baseURL: prometheus.url + "/metrics", caFile: certificates.authority)).scrape()
        #expect(page.contains { $0.name == "prometheus_build_info" })

        let untrusted = #expect(throws: SourceError.self) {
            try RemoteReadClient(connection: SourceConnection(baseURL: prometheus.url)).read([ProbeHistory.query])
        }
        guard case .transport(let message)? = untrusted else {
            Issue.record("expected a transport error, got \(String(describing: untrusted))")
            return
        }
        #expect(message.lowercased().contains("certificate"), "\(message)")
    }

    @Test func aRotatedBearerTokenIsUsedOnTheNextRead() throws {
        let directory = try scratchDirectory("connection")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token")
        try "token-one\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let accepted = Shared("token-one")
        let answer = ReadAnswer.samples([ProbeHistory.expected])
        let fake = try FakeSource { request in
            request.header("Authorization") == "Bearer \(accepted.value)"
                ? FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType, body: answer)
                : .text("unauthorized: bad bearer token", status: 401)
        }
        let client = RemoteReadClient(connection: SourceConnection(baseURL: fake.url, bearerTokenFile: SecretFile(path: tokenFile.path),
                                                                   headers: [("X-Scope-OrgID", "tenant-a")]))
        #expect(try client.read([ProbeHistory.query]).results == [ProbeHistory.expected])
        // The server moved to a new token before the file changed: the old one is refused.
        accepted.value = "token-two"
        let refused = #expect(throws: SourceError.self) { try client.read([ProbeHistory.query]) }
        #expect(refused?.statusCode == 401)
        #expect(refused?.description.contains("bad bearer token") == true, "\(String(describing: refused))")
        // As the kubelet rotates: a new file replaces the old one (a new inode), same length.
        try "token-two\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        #expect(try client.read([ProbeHistory.query]).results == [ProbeHistory.expected])
        // Rewritten in place, longer.
        accepted.value = "token-three-longer"
        try Data("token-three-longer\n".utf8).write(to: tokenFile)
        #expect(try client.read([ProbeHistory.query]).results == [ProbeHistory.expected])

        let requests = fake.requests
        #expect(requests.map { $0.header("Authorization") } == ["token-one", "token-one", "token-two", "token-three-longer"].map { "Bearer \($0)" })
        #expect(requests.allSatisfy { $0.header("X-Scope-OrgID") == "tenant-a" })
    }

    @Test func aMissingOrEmptyTokenFileIsACredentialsErrorAndSendsNothing() throws {
        let directory = try scratchDirectory("connection")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = try FakeSource { _ in .text("no credentials needed here") }
        let empty = directory.appendingPathComponent("empty")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        for path in [directory.appendingPathComponent("missing").path, empty.path] {
            let client = RemoteReadClient(connection: SourceConnection(baseURL: fake.url, bearerTokenFile: SecretFile(path: path)))
            let error = #expect(throws: SourceError.self) { try client.read([ProbeHistory.query]) }
            #expect(error?.kind == "credentials", "\(String(describing: error))")
            #expect(error?.description.contains(path) == true, "\(String(describing: error))")
        }
        #expect(fake.requests.isEmpty)
    }

    @Test func aReadPostsTheSnappyRequestWithTheRemoteReadHeaders() throws {
        let fake = try FakeSource { _ in FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType, body: ReadAnswer.samples([[]])) }
        let client = RemoteReadClient(connection: SourceConnection(baseURL: fake.url + "/", headers: [("X-Scope-OrgID", "tenant-b")]))
        #expect(try client.read([ProbeHistory.query], preferChunks: false).results == [[]])
        let request = try #require(fake.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/api/v1/read")
        #expect(request.header("Content-Type") == "application/x-protobuf")
        #expect(request.header("Content-Encoding") == "snappy")
        #expect(request.header("X-Prometheus-Remote-Read-Version") == "0.1.0")
        #expect(request.header("X-Scope-OrgID") == "tenant-b")
        #expect(try Snappy.decompress(request.body) == ReadMessages.request([ProbeHistory.query], preferChunks: false))
    }
}

/// What the client makes of answers that are well formed, and of every way one can be broken: each
/// a `SourceError` saying what was wrong, never a crash.
@Suite(.serialized)
struct ReadAnswerTests {
    static let gpu0 = Series(labels: ["__name__": "DCGM_FI_DEV_GPU_UTIL", "exported_pod": "digits-v1-a", "gpu": "0"],
                             points: [SeriesPoint(1_750_000_000_000, 87), SeriesPoint(1_750_000_015_000, 12.5), SeriesPoint(1_750_000_030_000, 40)])
    static let gpu1 = Series(labels: ["__name__": "DCGM_FI_DEV_GPU_UTIL", "exported_pod": "digits-v1-a", "gpu": "1"],
                             points: [SeriesPoint(1_750_000_000_000, 3), SeriesPoint(1_750_000_015_000, 99.75)])
    static let counter = Series(labels: ["__name__": "thaw_requests_total", "pod": "digits-v1-b"],
                                 points: [SeriesPoint(1_750_000_000_000, 1000), SeriesPoint(1_750_000_015_000, 4)])
    static let queries = [ProbeHistory.query, ProbeHistory.query]

    /// Two queries read from a fake serving `reply`: the mode the answer came in, and each query's series.
    static func read(_ reply: FakeSource.Reply) throws -> (RemoteReadClient.Mode, [[Series]]) {
        let fake = try FakeSource { _ in reply }
        let answer = try RemoteReadClient(baseURL: fake.url).read(queries)
        return (answer.mode, answer.results)
    }

    @Test func aSamplesAnswerReadsEveryQuery() throws {
        let (mode, results) = try Self.read(FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType,
                                                             body: ReadAnswer.samples([[Self.gpu0, Self.gpu1], [Self.counter]])))
        #expect(mode == .samples, "a server that answers SAMPLES though chunks were preferred")
        #expect(results == [[Self.gpu0, Self.gpu1], [Self.counter]])
    }

    @Test func aStreamedAnswerJoinsASeriesSplitOverFrames() throws {
        let head = Series(labels: Self.gpu0.labels, points: Array(Self.gpu0.points.prefix(2)))
        let tail = Series(labels: Self.gpu0.labels, points: Array(Self.gpu0.points.dropFirst(2)))
        let body = [
            ReadAnswer.chunked(queryIndex: 0, head), ReadAnswer.chunked(queryIndex: 0, tail),
            ReadAnswer.chunked(queryIndex: 0, Self.gpu1), ReadAnswer.chunked(queryIndex: 1, Self.counter),
        ].flatMap(ReadAnswer.frame)
        let (mode, results) = try Self.read(FakeSource.Reply(status: 200, contentType: ReadAnswer.streamType, body: body))
        #expect(mode == .chunks)
        #expect(results == [[Self.gpu0, Self.gpu1], [Self.counter]])
    }

    @Test func chunkSamplesOutsideTheAskedRangeAreLeftOut() throws {
        // One whole chunk with three samples, for a query of the middle one's millisecond only.
        let middle = Self.gpu0.points[1].timestampMilliseconds
        let wholeChunk = Series(labels: Self.gpu0.labels, points: Self.gpu0.points)
        let body = ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 0, wholeChunk))
            + ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 0, Series(labels: Self.gpu1.labels, points: [SeriesPoint(middle + 1, 5)])))
        let fake = try FakeSource { _ in FakeSource.Reply(status: 200, contentType: ReadAnswer.streamType, body: body) }
        let query = ReadQuery(matchers: ProbeHistory.query.matchers, startMilliseconds: middle, endMilliseconds: middle)
        let answer = try RemoteReadClient(baseURL: fake.url).read([query])
        #expect(answer.results == [[Series(labels: Self.gpu0.labels, points: [Self.gpu0.points[1]])]],
                "only the sample inside [start, end]; a series with none left is not returned")
    }

    /// One broken answer: what is served, and what the error must be and say.
    struct Broken: Sendable, CustomTestStringConvertible {
        var name: String
        var reply: FakeSource.Reply
        var kind: String
        var says: String
        var testDescription: String { name }

        static func stream(_ name: String, _ body: [UInt8], says: String) -> Broken {
            Broken(name: name, reply: FakeSource.Reply(status: 200, contentType: ReadAnswer.streamType, body: body), kind: "body", says: says)
        }

        static func samples(_ name: String, _ body: [UInt8], says: String) -> Broken {
            Broken(name: name, reply: FakeSource.Reply(status: 200, contentType: ReadAnswer.samplesType, body: body), kind: "body", says: says)
        }
    }

    static let broken: [Broken] = {
        let valid = ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 0, gpu0))
        var flipped = valid
        flipped[flipped.count - 1] ^= 0x01
        let twoSamplesClaimed = [UInt8(0), 2] + Array(ReadAnswer.oneSampleChunk(gpu0.points[0]).dropFirst(2))
        return [
            .samples("snappy cut short", Array(ReadAnswer.samples([[gpu0]]).dropLast(6)), says: "snappy"),
            .samples("snappy holding no ReadResponse", Snappy.compress([0x0a, 0xff, 0xff, 0x01]), says: "ReadResponse"),
            .stream("a frame's checksum does not match", flipped, says: "CRC32C"),
            .stream("the stream ends inside a frame", valid + Array(valid.dropLast(4)), says: "ended inside a frame"),
            .stream("a frame length that is no varint", [UInt8](repeating: 0xff, count: 11) + [0x01], says: "varint"),
            .stream("a frame announcing 100 MB", ReadAnswer.varint(100_000_000) + [0, 0, 0, 0], says: "100000000"),
            .stream("a frame holding no ChunkedReadResponse", ReadAnswer.frame([0x0a, 0x05, 0x01]), says: "ChunkedReadResponse"),
            .stream("a chunk of an unknown encoding", ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 0, gpu0, chunks: [(2, [0, 0])])),
                    says: "chunk encoding 2"),
            .stream("a chunk shorter than its sample count",
                    ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 0, gpu0, chunks: [(1, twoSamplesClaimed)])), says: "ends early"),
            .stream("a frame naming a query not asked", ReadAnswer.frame(ReadAnswer.chunked(queryIndex: 4, gpu0)), says: "query 4 of 2"),
            Broken(name: "HTTP 500 with a reason", reply: .text("remote read failed: out of memory", status: 500), kind: "status",
                   says: "out of memory"),
        ]
    }()

    @Test(arguments: broken)
    func aBrokenAnswerIsAnErrorSayingWhy(_ broken: Broken) throws {
        let fake = try FakeSource { _ in broken.reply }
        let error = #expect(throws: SourceError.self) { try RemoteReadClient(baseURL: fake.url).read(Self.queries) }
        #expect(error?.kind == broken.kind, "\(String(describing: error))")
        #expect(error?.description.contains(broken.says) == true, "\(String(describing: error))")
        #expect(error?.description.contains(fake.url + "/api/v1/read") == true, "the error names the source")
        if broken.kind == "status" { #expect(error?.statusCode == broken.reply.status) }
    }
}

/// dcgm-exporter's page read directly, without Prometheus.
@Suite(.serialized)
struct ExporterScraperTests {
    static let samples = [
        ScrapedSample(name: "DCGM_FI_DEV_GPU_UTIL", labels: ["gpu": "0", "UUID": "GPU-0a", "device": "nvidia0", "modelName": "NVIDIA A100 80GB PCIe",
                                                             "Hostname": "node-a", "container": "model", "namespace": "ml", "pod": "digits-v1-a"], value: 87),
        ScrapedSample(name: "DCGM_FI_DEV_GPU_UTIL", labels: ["gpu": "1", "UUID": "GPU-1a", "device": "nvidia1", "modelName": "NVIDIA A100 80GB PCIe",
                                                             "Hostname": "node-a"], value: 0),
        ScrapedSample(name: "DCGM_FI_DEV_FB_USED", labels: ["gpu": "0", "UUID": "GPU-0a", "device": "nvidia0", "modelName": "NVIDIA A100 80GB PCIe",
                                                            "Hostname": "node-a", "container": "model", "namespace": "ml", "pod": "digits-v1-a"],
                      value: 21383, timestampMilliseconds: 1_750_000_000_000),
        ScrapedSample(name: "DCGM_FI_DEV_POWER_USAGE", labels: ["gpu": "0", "modelName": "NVIDIA \"A100\"\\80GB"], value: 302.206),
    ]

    /// The exposition text of `samples`, as dcgm-exporter writes it: HELP and TYPE per family,
    /// integers without a fraction, label values escaped.
    static func page(_ samples: [ScrapedSample]) -> String {
        var lines: [String] = []
        for sample in samples {
            if !lines.contains("# TYPE \(sample.name) gauge") {
                lines += ["# HELP \(sample.name) \(sample.name) from DCGM.", "# TYPE \(sample.name) gauge"]
            }
            let labels = sample.labels.sorted { $0.key < $1.key }.map { label in
                let value = label.value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return "\(label.key)=\"\(value)\""
            }
            let value = sample.value == sample.value.rounded() ? String(Int(sample.value)) : String(sample.value)
            lines.append("\(sample.name){\(labels.joined(separator: ","))} \(value)" + (sample.timestampMilliseconds.map { " \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func anExporterPageReadsAsItsSamples() throws {
        let fake = try FakeSource { _ in FakeSource.Reply(status: 200, contentType: "text/plain; version=0.0.4", body: Array(Self.page(Self.samples).utf8)) }
        let scraped = try ExporterScraper(connection: SourceConnection(baseURL: fake.url + "/metrics", headers: [("X-Scope-OrgID", "tenant-c")])).scrape()
        #expect(scraped == Self.samples)
        let request = try #require(fake.requests.first)
        #expect(request.method == "GET")
        #expect(request.path == "/metrics")
        #expect(request.header("Accept")?.hasPrefix("text/plain") == true)
        #expect(request.header("X-Scope-OrgID") == "tenant-c")
    }

    @Test func aMalformedPageIsABodyErrorNamingTheLine() throws {
        let lines = Self.page(Array(Self.samples.prefix(1))).split(separator: "\n").map(String.init) + [#"DCGM_FI_DEV_GPU_UTIL{gpu="1"} eighty"#]
        let fake = try FakeSource { _ in .text(lines.joined(separator: "\n")) }
        let error = #expect(throws: SourceError.self) { try ExporterScraper(connection: SourceConnection(baseURL: fake.url + "/metrics")).scrape() }
        guard case .body(let url, let message)? = error else {
            Issue.record("expected a body error, got \(String(describing: error))")
            return
        }
        #expect(url == fake.url + "/metrics")
        #expect(message.contains("line \(lines.count)") && message.contains("eighty"), "\(message)")
    }

    @Test func anExporterErrorStatusIsAStatusError() throws {
        let fake = try FakeSource { _ in .text("exporter is restarting", status: 503) }
        let error = #expect(throws: SourceError.self) { try ExporterScraper(connection: SourceConnection(baseURL: fake.url + "/metrics")).scrape() }
        #expect(error?.statusCode == 503)
        #expect(error?.description.contains("exporter is restarting") == true, "\(String(describing: error))")
    }

    @Test func aSourceThatNeverAnswersTimesOut() throws {
        let fake = try FakeSource { _ in nil }
        let connection = SourceConnection(baseURL: fake.url + "/metrics", timeoutSeconds: 1)
        let scrape = #expect(throws: SourceError.self) { try ExporterScraper(connection: connection).scrape() }
        #expect(scrape == .timedOut(url: fake.url + "/metrics", seconds: 1))
        let read = #expect(throws: SourceError.self) { try RemoteReadClient(baseURL: fake.url, timeoutSeconds: 1).read([ProbeHistory.query]) }
        #expect(read == .timedOut(url: fake.url + "/api/v1/read", seconds: 1))
        #expect(fake.requests.count == 2, "both requests arrived and were left unanswered")
    }
}
