import CCurl

/// One blocking HTTP exchange with libcurl, carrying a `SourceConnection`'s auth, trust and headers.
/// Shared by the remote-read client and the exporter scraper, so both get the same TLS, auth and
/// error handling.
struct CurlTransport: Sendable {
    let connection: SourceConnection

    struct Response {
        var status: Int
        var contentType: String
        var body: [UInt8]
    }

    private final class Collected {
        var bytes: [UInt8] = []
    }

    /// libcurl's global setup is not thread-safe, so it runs once, before the first handle.
    private static let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// GET `url` without a body, or POST `body` to it.
    func send(to url: String, body: [UInt8]?, headers: [String]) throws -> Response {
        guard Self.curlReady, let handle = curl_easy_init() else { throw SourceError.transport("\(url): libcurl could not create a handle") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for header in headers + (try connection.authorizationHeaders()) {
            guard let longer = curl_slist_append(list, header) else { throw SourceError.transport("\(url): out of memory for headers") }
            list = longer
        }
        let password = try connection.basicAuth?.password.read()
        let collected = Collected()
        let context = Unmanaged.passRetained(collected)
        defer { context.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let payload = body ?? []
        let code: CURLcode = payload.withUnsafeBytes { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                _ = thaw_curl_setopt_string(handle, CURLOPT_URL, url)
                if body != nil {
                    _ = thaw_curl_setopt_long(handle, CURLOPT_POST, 1)
                    _ = thaw_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                    _ = thaw_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                }
                _ = thaw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                _ = thaw_curl_setopt_string(handle, CURLOPT_USERAGENT, "thaw-collector")
                _ = thaw_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(connection.timeoutSeconds * 1000))
                _ = thaw_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                if let auth = connection.basicAuth, let password {  // curl's default scheme is Basic
                    _ = thaw_curl_setopt_string(handle, CURLOPT_USERNAME, auth.username)
                    _ = thaw_curl_setopt_string(handle, CURLOPT_PASSWORD, password)
                }
                if let caFile = connection.caFile {
                    _ = thaw_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)
                }
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
            if code == CURLE_OPERATION_TIMEDOUT { throw SourceError.timedOut(url: url, seconds: connection.timeoutSeconds) }
            throw SourceError.transport("\(url): \(message)")
        }
        var status = 0
        _ = thaw_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var contentType: UnsafeMutablePointer<CChar>?
        _ = thaw_curl_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &contentType)
        let response = Response(status: status, contentType: contentType.map { String(cString: $0) } ?? "", body: collected.bytes)
        guard (200..<300).contains(status) else {
            throw SourceError.status(url: url, code: status, body: String(decoding: response.body.prefix(2048), as: UTF8.self))
        }
        return response
    }
}
