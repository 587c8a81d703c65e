import CPromPB
import CProtobufC
import Foundation
import RemoteReadFormat
import SeriesSignals

/// A label matcher of a remote-read query.
public struct LabelMatch: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case regex = "=~"
        case notRegex = "!~"
    }

    public var name: String
    public var op: Operator
    public var value: String

    public init(_ name: String, _ op: Operator, _ value: String) {
        self.name = name
        self.op = op
        self.value = value
    }
}

/// One query of a `ReadRequest`: matchers and a millisecond time range.
public struct ReadQuery: Sendable, Equatable {
    public var matchers: [LabelMatch]
    public var startMilliseconds: Int64
    public var endMilliseconds: Int64

    public init(matchers: [LabelMatch], startMilliseconds: Int64, endMilliseconds: Int64) {
        self.matchers = matchers
        self.startMilliseconds = startMilliseconds
        self.endMilliseconds = endMilliseconds
    }
}

/// Why a response body could not be read; bodies come from another process, so never a crash.
public enum ReadBodyError: Error, Equatable, CustomStringConvertible {
    case notProtobuf(String)
    case chunk(ChunkFormatError)

    public var description: String {
        switch self {
        case .notProtobuf(let message): "the body is not a valid \(message) protobuf message"
        case .chunk(let error): "a chunk could not be decoded: \(error)"
        }
    }
}

/// The remote-read protobuf messages, packed and unpacked with protobuf-c.
public enum ReadMessages {
    /// The `ReadRequest` protobuf for `queries`, accepting streamed chunks first when `preferChunks`.
    public static func request(_ queries: [ReadQuery], preferChunks: Bool) -> [UInt8] {
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        var matcherStorage: [UnsafeMutablePointer<Prometheus__LabelMatcher>] = []
        var queryStorage: [UnsafeMutablePointer<Prometheus__Query>] = []
        var matcherArrays: [UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__LabelMatcher>?>] = []
        defer {
            cStrings.forEach { free($0) }
            matcherStorage.forEach { $0.deallocate() }
            queryStorage.forEach { $0.deallocate() }
            matcherArrays.forEach { $0.deallocate() }
        }
        for query in queries {
            let array = UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__LabelMatcher>?>.allocate(capacity: max(1, query.matchers.count))
            matcherArrays.append(array)
            for (index, match) in query.matchers.enumerated() {
                let matcher = UnsafeMutablePointer<Prometheus__LabelMatcher>.allocate(capacity: 1)
                prometheus__label_matcher__init(matcher)
                let name = strdup(match.name)!, value = strdup(match.value)!
                cStrings += [name, value]
                matcher.pointee.name = name
                matcher.pointee.value = value
                matcher.pointee.type = switch match.op {
                case .equal: PROMETHEUS__LABEL_MATCHER__TYPE__EQ
                case .notEqual: PROMETHEUS__LABEL_MATCHER__TYPE__NEQ
                case .regex: PROMETHEUS__LABEL_MATCHER__TYPE__RE
                case .notRegex: PROMETHEUS__LABEL_MATCHER__TYPE__NRE
                }
                matcherStorage.append(matcher)
                array[index] = matcher
            }
            let message = UnsafeMutablePointer<Prometheus__Query>.allocate(capacity: 1)
            prometheus__query__init(message)
            message.pointee.start_timestamp_ms = query.startMilliseconds
            message.pointee.end_timestamp_ms = query.endMilliseconds
            message.pointee.n_matchers = query.matchers.count
            message.pointee.matchers = array
            queryStorage.append(message)
        }
        var types: [Prometheus__ReadRequest__ResponseType] = preferChunks
            ? [PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS, PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES]
            : [PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES]
        var queryPointers: [UnsafeMutablePointer<Prometheus__Query>?] = queryStorage
        var request = Prometheus__ReadRequest()
        prometheus__read_request__init(&request)
        return queryPointers.withUnsafeMutableBufferPointer { queries in
            types.withUnsafeMutableBufferPointer { types in
                request.n_queries = queries.count
                request.queries = queries.baseAddress
                request.n_accepted_response_types = types.count
                request.accepted_response_types = types.baseAddress
                var bytes = [UInt8](repeating: 0, count: prometheus__read_request__get_packed_size(&request))
                _ = bytes.withUnsafeMutableBufferPointer { prometheus__read_request__pack(&request, $0.baseAddress) }
                return bytes
            }
        }
    }

    /// The series of a SAMPLES `ReadResponse` (already decompressed), per query.
    public static func samplesResponse(_ body: [UInt8]) throws -> [[Series]] {
        guard let response = body.withUnsafeBufferPointer({ prometheus__read_response__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw ReadBodyError.notProtobuf("ReadResponse")
        }
        defer { prometheus__read_response__free_unpacked(response, nil) }
        return (0..<response.pointee.n_results).map { resultIndex in
            let result = response.pointee.results[resultIndex]!.pointee
            return (0..<result.n_timeseries).map { seriesIndex in
                let series = result.timeseries[seriesIndex]!.pointee
                let samples = (0..<series.n_samples).map { index in
                    let sample = series.samples[index]!.pointee
                    return SeriesPoint(sample.timestamp, sample.value)
                }
                return Series(labels: labels(series.labels, count: series.n_labels), points: samples)
            }
        }
    }

    /// One `ChunkedReadResponse` frame: its query index and series, chunks decoded.
    public static func chunkedResponse(_ message: [UInt8]) throws -> (queryIndex: Int, series: [Series]) {
        guard let response = message.withUnsafeBufferPointer({ prometheus__chunked_read_response__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw ReadBodyError.notProtobuf("ChunkedReadResponse")
        }
        defer { prometheus__chunked_read_response__free_unpacked(response, nil) }
        var series: [Series] = []
        for seriesIndex in 0..<response.pointee.n_chunked_series {
            let chunked = response.pointee.chunked_series[seriesIndex]!.pointee
            var samples: [SeriesPoint] = []
            for chunkIndex in 0..<chunked.n_chunks {
                let chunk = chunked.chunks[chunkIndex]!.pointee
                guard chunk.type.rawValue == UInt32(XORChunk.encoding) else {
                    throw ReadBodyError.chunk(.unknownEncoding(Int32(chunk.type.rawValue)))
                }
                let data = Array(UnsafeBufferPointer(start: chunk.data.data, count: chunk.data.len))
                do {
                    samples += try XORChunk.decode(data).map { SeriesPoint($0.timestamp, $0.value) }
                } catch let error as ChunkFormatError {
                    throw ReadBodyError.chunk(error)
                }
            }
            series.append(Series(labels: labels(chunked.labels, count: chunked.n_labels), points: samples))
        }
        return (Int(response.pointee.query_index), series)
    }

    private static func labels(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Label>?>?, count: Int) -> [String: String] {
        var labels: [String: String] = [:]
        for index in 0..<count {
            guard let label = pointer?[index]?.pointee else { continue }
            labels[String(cString: label.name)] = String(cString: label.value)
        }
        return labels
    }
}
