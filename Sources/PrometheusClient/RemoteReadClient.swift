import Foundation
import RemoteReadCodec
import RemoteReadFormat
import SeriesSignals

/// Reads series from Prometheus through its remote-read API (`POST /api/v1/read`), with libcurl.
///
/// It asks for streamed XOR chunks first and reads whatever the server answers: a chunked stream
/// (frames checked with CRC32C, chunks decoded here) or a snappy-compressed SAMPLES response, so
/// older servers work too. Every failure is a `SourceError` value.
public struct RemoteReadClient: Sendable {
    public var connection: SourceConnection

    public init(connection: SourceConnection) {
        self.connection = connection
    }

    public init(baseURL: String, timeoutSeconds: Double = 10) {
        self.init(connection: SourceConnection(baseURL: baseURL, timeoutSeconds: timeoutSeconds))
    }

    /// Which response type the server used.
    public enum Mode: String, Sendable {
        case samples
        case chunks
    }

    /// Runs `queries` in one request; returns each query's series, in order. Blocking: call it from
    /// a thread that may wait (the collector's polling thread, a command line).
    public func read(_ queries: [ReadQuery], preferChunks: Bool = true) throws -> (mode: Mode, results: [[Series]]) {
        let url = connection.baseURL + "/api/v1/read"
        let body = Snappy.compress(ReadMessages.request(queries, preferChunks: preferChunks))
        let response = try CurlTransport(connection: connection).send(to: url, body: body, headers: [
            "Content-Type: application/x-protobuf", "Content-Encoding: snappy", "X-Prometheus-Remote-Read-Version: 0.1.0",
        ])
        if response.contentType.hasPrefix("application/x-streamed-protobuf") {
            var frames = StreamFrames()
            frames.append(response.body)
            var results = [[Series]](repeating: [], count: queries.count)
            do {
                while let message = try frames.next() {
                    let (index, series) = try ReadMessages.chunkedResponse(message)
                    guard results.indices.contains(index) else {
                        throw SourceError.body(url: url, message: "a frame names query \(index) of \(queries.count)")
                    }
                    // A series may be split over several frames; consecutive parts share its labels.
                    for part in series {
                        if let last = results[index].last, last.labels == part.labels {
                            results[index][results[index].count - 1].points += part.points
                        } else {
                            results[index].append(part)
                        }
                    }
                }
                try frames.finish()
            } catch let error as StreamFrames.Failure {
                throw SourceError.body(url: url, message: "\(error)")
            } catch let error as ReadBodyError {
                throw SourceError.body(url: url, message: "\(error)")
            }
            // A chunk may reach outside the asked range (a server may send whole chunks): only the
            // range's samples count, as in a SAMPLES answer.
            let trimmed = zip(queries, results).map { query, series in
                let range = query.startMilliseconds...query.endMilliseconds
                return series.compactMap { one -> Series? in
                    // Samples are in time order: a series whose ends are inside the range needs no pass.
                    if let first = one.points.first, let last = one.points.last,
                       range.contains(first.timestampMilliseconds), range.contains(last.timestampMilliseconds) {
                        return one
                    }
                    let points = one.points.filter { range.contains($0.timestampMilliseconds) }
                    return points.isEmpty ? nil : Series(labels: one.labels, points: points)
                }
            }
            return (.chunks, trimmed)
        }
        let results: [[Series]]
        do {
            results = try ReadMessages.samplesResponse(try Snappy.decompress(response.body, limit: SourceConnection.maxUncompressedBytes))
        } catch let error as Snappy.Corrupt {
            throw SourceError.body(url: url, message: "\(error)")
        } catch let error as Snappy.TooLarge {
            throw SourceError.body(url: url, message: "\(error)")
        } catch let error as ReadBodyError {
            throw SourceError.body(url: url, message: "\(error)")
        }
        guard results.count == queries.count else {
            throw SourceError.body(url: url, message: "the answer has \(results.count) results for \(queries.count) queries")
        }
        return (.samples, results)
    }
}
