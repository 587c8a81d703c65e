import CCurl
import Synchronization

/// Stops an exchange from another thread (a daemon shutting down): libcurl looks at it at least once
/// a second, even while nothing arrives, and ends the transfer with `Failure.stopped`.
public final class CurlStop: Sendable {
    private let stopped = Atomic(false)

    public init() {}

    public func stop() { stopped.store(true, ordering: .relaxed) }

    public var isStopped: Bool { stopped.load(ordering: .relaxed) }
}

/// One blocking HTTP exchange on libcurl: the URL, method, headers and body, the TLS trust and client
/// certificate, and what came back. The collector's reads and the Kubernetes client both go through
/// it, so both get the same TLS, timeout and error handling.
public struct CurlExchange {
    /// PEM bytes, from a file or given inline.
    public enum PEM: Sendable {
        case file(String)
        case data([UInt8])
    }

    public var url: String
    public var method = "GET"
    public var headers: [String] = []
    public var body: [UInt8]?
    /// The whole exchange; nil: no limit (a watch, which the server ends).
    public var timeoutMilliseconds: Int?
    public var connectTimeoutMilliseconds: Int?
    public var userAgent = "thaw"
    /// The CA to trust instead of the system's.
    public var authority: PEM?
    public var verifyPeer = true
    public var clientCertificate: (certificate: PEM, key: PEM)?
    public var basicAuth: (username: String, password: String)?
    /// The most body bytes taken, buffered or streamed; past it the transfer stops (`bodyTooLarge`).
    /// Nil: no limit (a watch, which streams for as long as the server sends).
    public var maxBodyBytes: Int?
    /// Ends the exchange early when stopped.
    public var stop: CurlStop?

    public init(url: String) {
        self.url = url
    }

    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        /// The body, unless it was streamed.
        public var body: [UInt8]
        /// A `Retry-After` header's wait in seconds (a 429 or 503 says when to come back).
        public var retryAfterSeconds: Int? = nil
    }

    public enum Failure: Error, Sendable {
        case timedOut
        /// The body went past `maxBodyBytes`; the transfer was stopped there.
        case bodyTooLarge(limit: Int)
        /// libcurl's own words: connection refused, a certificate it does not trust, …
        case transport(String)
        /// `stop` was stopped while the exchange ran.
        case stopped
    }

    /// libcurl's global setup is not thread-safe, so it runs once, before the first handle.
    private static let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private final class Received {
        var bytes: [UInt8] = []
        let handle: UnsafeMutableRawPointer
        let stream: ((UnsafeRawBufferPointer) -> Bool)?
        /// Decided at the first bytes: only a 200 answer streams; an error body is collected whole.
        var streaming: Bool?
        var stoppedByReceiver = false
        let limit: Int
        var total = 0
        var tooLarge = false
        let stop: CurlStop?

        init(handle: UnsafeMutableRawPointer, stream: ((UnsafeRawBufferPointer) -> Bool)?, limit: Int?, stop: CurlStop?) {
            self.handle = handle
            self.stream = stream
            self.limit = limit ?? .max
            self.stop = stop
        }
    }

    /// Performs the exchange. With `stream`, a 200 answer's body goes to it as it arrives (until it
    /// returns false) instead of into the response.
    public func perform(stream: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws -> Response {
        guard Self.curlReady, let handle = curl_easy_init() else { throw Failure.transport("\(url): libcurl could not create a handle") }
        var list: UnsafeMutablePointer<curl_slist>?
        // The handle may still look at the header list while it closes: free the list after it.
        defer {
            curl_easy_cleanup(handle)
            curl_slist_free_all(list)
        }
        for header in headers {
            guard let longer = curl_slist_append(list, header) else { throw Failure.transport("\(url): out of memory for headers") }
            list = longer
        }
        let received = Received(handle: handle, stream: stream, limit: maxBodyBytes, stop: stop)
        let context = Unmanaged.passRetained(received)
        defer { context.release() }
        var blobs: [(CURLoption, [UInt8])] = []
        var files: [(CURLoption, String)] = []
        for (pem, fileOption, blobOption) in [(authority, CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB),
                                              (clientCertificate?.certificate, CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB),
                                              (clientCertificate?.key, CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB)] {
            switch pem {
            case .file(let path): files.append((fileOption, path))
            case .data(let bytes): blobs.append((blobOption, bytes))
            case nil: break
            }
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let payload = body ?? []
        var refused: String?
        let code: CURLcode = payload.withUnsafeBytes { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                Self.withBlobs(blobs) { blobPointers in
                    _ = thaw_curl_setopt_string(handle, CURLOPT_URL, url)
                    _ = thaw_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
                    if body != nil {
                        _ = thaw_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                        _ = thaw_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                    }
                    _ = thaw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                    _ = thaw_curl_setopt_string(handle, CURLOPT_USERAGENT, userAgent)
                    _ = thaw_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds ?? 0)
                    if let connectTimeoutMilliseconds { _ = thaw_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds) }
                    _ = thaw_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                    if !verifyPeer {
                        _ = thaw_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
                        _ = thaw_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
                    }
                    // Trust and credentials must take, or the failure would surface later as a misleading
                    // TLS error or a 401.
                    for (option, path) in files where thaw_curl_setopt_string(handle, option, path) != CURLE_OK {
                        refused = "libcurl refused the TLS file \(path)"
                    }
                    for (option, blob) in blobPointers where thaw_curl_setopt_pointer(handle, option, blob) != CURLE_OK {
                        refused = "this libcurl cannot take a CA or client certificate given inline (CURLOPT_*_BLOB)"
                    }
                    if refused != nil { return CURLE_BAD_FUNCTION_ARGUMENT }
                    if let basicAuth {  // curl's default scheme is Basic
                        _ = thaw_curl_setopt_string(handle, CURLOPT_USERNAME, basicAuth.username)
                        _ = thaw_curl_setopt_string(handle, CURLOPT_PASSWORD, basicAuth.password)
                    }
                    _ = thaw_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                    _ = thaw_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
                    _ = thaw_curl_setopt_write_function(handle) { data, size, count, user in
                        let received = Unmanaged<Received>.fromOpaque(user!).takeUnretainedValue()
                        let length = size * count
                        guard let data else { return length }
                        let bytes = UnsafeRawBufferPointer(start: data, count: length)
                        received.total += length
                        guard received.total <= received.limit else {
                            received.tooLarge = true
                            return 0  // libcurl ends the transfer
                        }
                        if received.streaming == nil {
                            var status = 0
                            _ = thaw_curl_getinfo_long(received.handle, CURLINFO_RESPONSE_CODE, &status)
                            received.streaming = received.stream != nil && status == 200
                        }
                        if received.streaming == true, let stream = received.stream {
                            guard stream(bytes) else {
                                received.stoppedByReceiver = true
                                return 0  // libcurl ends the transfer
                            }
                            return length
                        }
                        received.bytes.append(contentsOf: bytes)
                        return length
                    }
                    if stop != nil {
                        _ = thaw_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
                        _ = thaw_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context.toOpaque())
                        _ = thaw_curl_setopt_xferinfo_function(handle) { user, _, _, _, _ in
                            // Non-zero ends the transfer (CURLE_ABORTED_BY_CALLBACK).
                            Unmanaged<Received>.fromOpaque(user!).takeUnretainedValue().stop?.isStopped == true ? 1 : 0
                        }
                    }
                    let result = curl_easy_perform(handle)
                    // The buffer lives only in this closure; the handle outlives it until cleanup.
                    _ = thaw_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
                    return result
                }
            }
        }
        if let refused { throw Failure.transport("\(url): \(refused)") }
        if received.tooLarge { throw Failure.bodyTooLarge(limit: received.limit) }
        if code == CURLE_ABORTED_BY_CALLBACK, received.stop?.isStopped == true { throw Failure.stopped }
        var status = 0
        _ = thaw_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard code == CURLE_OK || received.stoppedByReceiver else {
            if code == CURLE_OPERATION_TIMEDOUT { throw Failure.timedOut }
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw Failure.transport("\(url): \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)")
        }
        var contentType: UnsafeMutablePointer<CChar>?
        _ = thaw_curl_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &contentType)
        var retryAfter: curl_off_t = 0
        _ = thaw_curl_getinfo_off(handle, CURLINFO_RETRY_AFTER, &retryAfter)
        return Response(status: status, contentType: contentType.map { String(cString: $0) } ?? "", body: received.bytes,
                        retryAfterSeconds: retryAfter > 0 ? Int(retryAfter) : nil)
    }

    /// A `curl_blob` for each inline PEM, valid while `body` runs (libcurl copies it).
    private static func withBlobs<R>(_ blobs: [(CURLoption, [UInt8])], _ body: ([(CURLoption, UnsafeMutableRawPointer)]) -> R) -> R {
        var structs = blobs.map { _, bytes -> curl_blob in
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { if let base = $0.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) } }
            return curl_blob(data: copy, len: bytes.count, flags: UInt32(CURL_BLOB_COPY))
        }
        defer { for blob in structs { blob.data.deallocate() } }
        return structs.withUnsafeMutableBufferPointer { buffer in
            body(blobs.indices.map { (blobs[$0].0, UnsafeMutableRawPointer(buffer.baseAddress! + $0)) })
        }
    }
}
