/// Settings of `folio serve` (SPEC §9: flags or `FOLIO_*` variables).
public struct ServerConfiguration: Sendable {
    /// Host to bind, e.g. `127.0.0.1` or `0.0.0.0`.
    public var host: String
    /// Port to bind; 0 picks a free one (the chosen one is printed).
    public var port: Int
    /// Largest request body accepted (`FOLIO_MAX_BODY_BYTES`), 1 MiB by default.
    public var maxBodyBytes: Int
    /// Seconds between heartbeats on live sync streams (`FOLIO_HEARTBEAT`).
    public var heartbeatSeconds: Int
    /// Longest a live sync stream stays open (`FOLIO_MAX_STREAM_SECONDS`); it then ends with
    /// `up-to-date` and the client reconnects from its cursor (so load spreads across servers).
    public var maxStreamSeconds: Int
    /// Most events in one `POST /v1/events` (`FOLIO_MAX_BATCH_EVENTS`), 1,000 by default.
    public var maxBatchEvents: Int = 1000

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 1 << 20, heartbeatSeconds: Int = 15, maxStreamSeconds: Int = 900) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.heartbeatSeconds = heartbeatSeconds
        self.maxStreamSeconds = maxStreamSeconds
    }

    /// Parses `host:port` (`FOLIO_LISTEN`); `[::1]:8080` for IPv6.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}
