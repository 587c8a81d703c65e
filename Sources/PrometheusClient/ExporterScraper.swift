import SeriesSignals

/// Scrapes an exporter's `/metrics` text directly (dcgm-exporter on each GPU node), for clusters
/// small enough to scale on GPU utilization without running Prometheus.
public struct ExporterScraper: Sendable {
    /// The full URL of the exporter's metrics page, e.g. `http://10.0.0.7:9400/metrics`.
    public var connection: SourceConnection

    public init(connection: SourceConnection) {
        self.connection = connection
    }

    /// One scrape: every sample line of the page. Blocking, like `RemoteReadClient.read`.
    public func scrape() throws -> [ScrapedSample] {
        let url = connection.baseURL
        let response = try CurlTransport(connection: connection).send(to: url, body: nil, headers: [
            "Accept: text/plain;version=0.0.4",
        ])
        do {
            return try ExpositionParser.parse(String(decoding: response.body, as: UTF8.self))
        } catch {
            throw SourceError.body(url: url, message: "\(error)")
        }
    }
}
