import CurlHTTP

/// One blocking HTTP exchange carrying a `SourceConnection`'s auth, trust and headers. Shared by the
/// remote-read client and the exporter scraper, so both get the same TLS, auth and error handling.
struct CurlTransport: Sendable {
    let connection: SourceConnection

    /// GET `url` without a body, or POST `body` to it.
    func send(to url: String, body: [UInt8]?, headers: [String]) throws -> CurlExchange.Response {
        var exchange = CurlExchange(url: url)
        exchange.method = body == nil ? "GET" : "POST"
        exchange.body = body
        exchange.headers = headers + (try connection.authorizationHeaders())
        exchange.userAgent = "thaw-collector"
        exchange.timeoutMilliseconds = Int(connection.timeoutSeconds * 1000)
        exchange.maxBodyBytes = SourceConnection.maxBodyBytes
        exchange.stop = connection.stop
        exchange.authority = connection.caFile.map(CurlExchange.PEM.file)
        if let auth = connection.basicAuth { exchange.basicAuth = (auth.username, try auth.password.read()) }
        let response: CurlExchange.Response
        do {
            response = try exchange.perform()
        } catch CurlExchange.Failure.timedOut {
            throw SourceError.timedOut(url: url, seconds: connection.timeoutSeconds)
        } catch CurlExchange.Failure.bodyTooLarge(let limit) {
            throw SourceError.body(url: url, message: "the answer is larger than \(limit / (1024 * 1024)) MiB, the most the collector reads in one answer; ask for fewer series or a shorter range")
        } catch CurlExchange.Failure.transport(let message) {
            throw SourceError.transport(message)
        } catch CurlExchange.Failure.stopped {
            throw SourceError.stopped(url: url)
        }
        guard (200..<300).contains(response.status) else {
            throw SourceError.status(url: url, code: response.status, body: String(decoding: response.body.prefix(2048), as: UTF8.self))
        }
        return response
    }
}
