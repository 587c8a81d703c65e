import CPromPB
import Testing
@testable import RemoteReadCodec
import SeriesSignals
import RemoteReadFormat

struct SnappyTests {
    @Test func roundTripsAndShrinksRepetitiveBodies() throws {
        let body = Array(String(repeating: "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 87\n", count: 200).utf8)
        let compressed = Snappy.compress(body)
        #expect(compressed.count < body.count / 5)
        #expect(try Snappy.decompress(compressed) == body)
        #expect(try Snappy.decompress(Snappy.compress([])) == [])
    }

    @Test func corruptInputIsAnError() {
        #expect(throws: Snappy.Corrupt.self) { _ = try Snappy.decompress([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]) }
        let compressed = Snappy.compress(Array("hello hello hello hello".utf8))
        #expect(throws: Snappy.Corrupt.self) { _ = try Snappy.decompress(Array(compressed.dropLast(3))) }
    }
}

struct ReadMessagesTests {
    @Test func aRequestCarriesEveryQueryMatcherAndTheResponseTypes() throws {
        let queries = [
            ReadQuery(matchers: [LabelMatch("__name__", .equal, "DCGM_FI_DEV_GPU_UTIL"), LabelMatch("exported_pod", .notEqual, "")],
                      startMilliseconds: 1_700_000_000_000, endMilliseconds: 1_700_000_300_000),
            ReadQuery(matchers: [LabelMatch("__name__", .regex, "http_.*"), LabelMatch("code", .notRegex, "5..")],
                      startMilliseconds: 1, endMilliseconds: 2),
        ]
        let bytes = ReadMessages.request(queries, preferChunks: true)
        let request = try #require(bytes.withUnsafeBufferPointer { prometheus__read_request__unpack(nil, $0.count, $0.baseAddress) })
        defer { prometheus__read_request__free_unpacked(request, nil) }
        #expect(request.pointee.n_queries == 2)
        #expect(request.pointee.n_accepted_response_types == 2)
        #expect(request.pointee.accepted_response_types[0] == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS)
        #expect(request.pointee.accepted_response_types[1] == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES)
        let first = request.pointee.queries[0]!.pointee
        #expect(first.start_timestamp_ms == 1_700_000_000_000)
        #expect(first.end_timestamp_ms == 1_700_000_300_000)
        #expect(first.n_matchers == 2)
        #expect(String(cString: first.matchers[1]!.pointee.name) == "exported_pod")
        #expect(first.matchers[1]!.pointee.type == PROMETHEUS__LABEL_MATCHER__TYPE__NEQ)
        let second = request.pointee.queries[1]!.pointee
        #expect(second.matchers[0]!.pointee.type == PROMETHEUS__LABEL_MATCHER__TYPE__RE)
        #expect(String(cString: second.matchers[1]!.pointee.value) == "5..")
        #expect(second.matchers[1]!.pointee.type == PROMETHEUS__LABEL_MATCHER__TYPE__NRE)

        let samplesOnly = ReadMessages.request(queries, preferChunks: false)
        let plain = try #require(samplesOnly.withUnsafeBufferPointer { prometheus__read_request__unpack(nil, $0.count, $0.baseAddress) })
        defer { prometheus__read_request__free_unpacked(plain, nil) }
        #expect(plain.pointee.n_accepted_response_types == 1)
        #expect(plain.pointee.accepted_response_types[0] == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES)
    }

    /// Protobuf wire format by hand: tag = field << 3 | wire type; 0 = varint, 2 = length-delimited.
    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    static func field(_ number: Int, varint value: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(value) }
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value, out: [UInt8] = []
        while value >= 0x80 { out.append(UInt8(value & 0x7f) | 0x80); value >>= 7 }
        return out + [UInt8(value)]
    }

    /// The first bytes of a chunk a real Prometheus returned, cut to two samples (see XORChunkTests).
    static let chunk: [UInt8] = [0x00, 0x02, 0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, 0x40, 0x24, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00]

    @Test func aChunkedFrameDecodesToLabelledSamples() throws {
        let label = Self.field(1, Array("__name__".utf8)) + Self.field(2, Array("up".utf8))
        let chunk = Self.field(1, varint: 1_700_000_000_000) + Self.field(2, varint: 1_700_000_015_000)
            + Self.field(3, varint: 1) + Self.field(4, Self.chunk)
        let series = Self.field(1, label) + Self.field(2, chunk)
        let message = Self.field(1, series) + Self.field(2, varint: 1)
        let decoded = try ReadMessages.chunkedResponse(message)
        #expect(decoded.queryIndex == 1)
        #expect(decoded.series == [Series(labels: ["__name__": "up"], points: [SeriesPoint(1_700_000_000_000, 10), SeriesPoint(1_700_000_015_000, 10)])])
    }

    @Test func badBodiesAreErrorValues() throws {
        #expect(throws: ReadBodyError.notProtobuf("ReadResponse")) { _ = try ReadMessages.samplesResponse([0x0a, 0xff, 0xff, 0x01]) }
        #expect(throws: ReadBodyError.notProtobuf("ChunkedReadResponse")) { _ = try ReadMessages.chunkedResponse([0x0a, 0x05, 0x01]) }
        let histogram = Self.field(1, Self.field(2, Self.field(3, varint: 2) + Self.field(4, [0, 0])))
        #expect(throws: ReadBodyError.chunk(.unknownEncoding(2))) { _ = try ReadMessages.chunkedResponse(histogram) }
        let truncated = Self.field(1, Self.field(2, Self.field(3, varint: 1) + Self.field(4, Array(Self.chunk.prefix(9)))))
        #expect(throws: ReadBodyError.self) { _ = try ReadMessages.chunkedResponse(truncated) }
    }

    @Test func aSamplesResponseDecodesEveryResultAndSeries() throws {
        func sample(_ value: Double, _ timestamp: UInt64) -> [UInt8] {
            [0x09] + withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) + Self.field(2, varint: timestamp)
        }
        let labels = Self.field(1, Self.field(1, Array("__name__".utf8)) + Self.field(2, Array("DCGM_FI_DEV_GPU_UTIL".utf8)))
            + Self.field(1, Self.field(1, Array("exported_pod".utf8)) + Self.field(2, Array("digits-v1-7f9c".utf8)))
        let series = labels + Self.field(2, sample(87.5, 1_700_000_000_000)) + Self.field(2, sample(12, 1_700_000_015_000))
        let body = Self.field(1, Self.field(1, series)) + Self.field(1, [])
        let results = try ReadMessages.samplesResponse(body)
        #expect(results.count == 2)
        #expect(results[0] == [Series(labels: ["__name__": "DCGM_FI_DEV_GPU_UTIL", "exported_pod": "digits-v1-7f9c"], points: [SeriesPoint(1_700_000_000_000, 87.5), SeriesPoint(1_700_000_015_000, 12)])])
        #expect(results[1].isEmpty)
    }

    @Test func anEmptySamplesResponseHasNoSeries() throws {
        #expect(try ReadMessages.samplesResponse([]) == [])
        let oneEmptyResult = Self.field(1, [])
        #expect(try ReadMessages.samplesResponse(oneEmptyResult) == [[]])
    }
}

struct SeriesSelectorTests {
    @Test func namesAndMatchersOfEveryKind() throws {
        let matchers = try SeriesSelector.parse(#"DCGM_FI_DEV_GPU_UTIL{exported_pod!="", job=~"dcgm.*", gpu!~"[23]",ns="a \"b\""}"#)
        #expect(matchers == [
            LabelMatch("__name__", .equal, "DCGM_FI_DEV_GPU_UTIL"), LabelMatch("exported_pod", .notEqual, ""),
            LabelMatch("job", .regex, "dcgm.*"), LabelMatch("gpu", .notRegex, "[23]"), LabelMatch("ns", .equal, "a \"b\""),
        ])
        #expect(try SeriesSelector.parse("up") == [LabelMatch("__name__", .equal, "up")])
        #expect(try SeriesSelector.parse(#"{__name__="up"}"#) == [LabelMatch("__name__", .equal, "up")])
    }

    @Test(arguments: ["", "{}", "up{job=x}", #"up{job="x}"#, #"up{job<"x"}"#, "rate(up[5m])"])
    func invalidSelectorsAreErrors(text: String) {
        #expect(throws: SeriesSelector.Invalid.self) { _ = try SeriesSelector.parse(text) }
    }
}
