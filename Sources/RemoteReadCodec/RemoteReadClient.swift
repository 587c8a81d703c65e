import CCurl
import Foundation
import RemoteReadFormat
import SeriesSignals

/// Reads series from Prometheus through its remote-read API (`POST /api/v1/read`), with libcurl.
///
/// It asks for streamed XOR chunks first and reads whatever the server answers: a chunked stream
/// (frames checked with CRC32C, chunks decoded here) or a snappy-compressed SAMPLES response, so
/// older servers work too. Every failure is a `RemoteReadError` value.
public struct RemoteReadClient: Sendable {
    public var baseURL: String
    public var timeoutSeconds: Double
    public var headers: [(String, String)]

    public init(baseURL: String, timeoutSeconds: Double = 10, headers: [(String, String)] = []) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeoutSeconds = timeoutSeconds
        self.headers = headers
    }

    /// Which response type the server used.
    public enum Mode: String, Sendable {
        case samples
        case chunks
    }

    /// Runs `queries` in one request; returns each query's series, in order. Blocking: call it from
    /// a thread that may wait (the collector's polling thread, a command line).
    public func read(_ queries: [ReadQuery], preferChunks: Bool = true) throws -> (mode: Mode, results: [[Series]]) {
        let body = Snappy.compress(ReadMessages.request(queries, preferChunks: preferChunks))
        let response = try post(body)
        guard (200..<300).contains(response.status) else {
            throw RemoteReadError.status(response.status, String(decoding: response.body.prefix(2048), as: UTF8.self))
        }
        if response.contentType.hasPrefix("application/x-streamed-protobuf") {
            var frames = StreamFrames()
            frames.append(response.body)
            var results = [[Series]](repeating: [], count: queries.count)
            do {
                while let message = try frames.next() {
                    let (index, series) = try ReadMessages.chunkedResponse(message)
                    guard results.indices.contains(index) else { throw RemoteReadError.body("a frame names query \(index) of \(queries.count)") }
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
                throw RemoteReadError.body("\(error)")
            } catch let error as ReadBodyError {
                throw RemoteReadError.body("\(error)")
            }
            return (.chunks, results)
        }
        do {
            let results = try ReadMessages.samplesResponse(try Snappy.decompress(response.body))
            return (.samples, results)
        } catch let error as Snappy.Corrupt {
            throw RemoteReadError.body("\(error)")
        } catch let error as ReadBodyError {
            throw RemoteReadError.body("\(error)")
        }
    }

    private final class Collected {
        var bytes: [UInt8] = []
    }

    /// libcurl's global setup is not thread-safe, so it runs once, before the first handle.
    private static let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private func post(_ body: [UInt8]) throws -> (status: Int, contentType: String, body: [UInt8]) {
        guard Self.curlReady, let handle = curl_easy_init() else { throw RemoteReadError.transport("libcurl could not create a handle") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for header in ["Content-Type: application/x-protobuf", "Content-Encoding: snappy", "X-Prometheus-Remote-Read-Version: 0.1.0",
                       "User-Agent: thaw-collector"] + headers.map({ "\($0.0): \($0.1)" }) {
            list = curl_slist_append(list, header)
        }
        defer { curl_slist_free_all(list) }
        let collected = Collected()
        let context = Unmanaged.passRetained(collected)
        defer { context.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let url = baseURL + "/api/v1/read"
        let code: CURLcode = body.withUnsafeBytes { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                _ = thaw_curl_setopt_string(handle, CURLOPT_URL, url)
                _ = thaw_curl_setopt_long(handle, CURLOPT_POST, 1)
                _ = thaw_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                _ = thaw_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                _ = thaw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                _ = thaw_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeoutSeconds * 1000))
                _ = thaw_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = thaw_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                _ = thaw_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
                _ = thaw_curl_setopt_write_function(handle) { data, size, count, user in
                    let collected = Unmanaged<Collected>.fromOpaque(user!).takeUnretainedValue()
                    let length = size * count
                    if let data { collected.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
                    return length
                }
                return curl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if code == CURLE_OPERATION_TIMEDOUT { throw RemoteReadError.timedOut(url, timeoutSeconds) }
            throw RemoteReadError.transport("\(url): \(message)")
        }
        var status = 0
        _ = thaw_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var contentType: UnsafeMutablePointer<CChar>?
        _ = thaw_curl_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &contentType)
        return (status, contentType.map { String(cString: $0) } ?? "", collected.bytes)
    }
}

/// Why a remote read failed.
public enum RemoteReadError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error status; its body says why.
    case status(Int, String)
    case transport(String)
    case timedOut(String, Double)
    /// The answer could not be read: corrupt snappy, a bad frame or checksum, an unreadable chunk.
    case body(String)

    public var description: String {
        switch self {
        case .status(let code, let body): "Prometheus answered \(code): \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .transport(let message): "cannot reach Prometheus: \(message)"
        case .timedOut(let url, let seconds): "\(url): no complete answer within \(seconds) s"
        case .body(let message): "Prometheus' answer could not be read: \(message)"
        }
    }
}
