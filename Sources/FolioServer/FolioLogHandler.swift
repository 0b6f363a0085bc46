import Logging

/// `StreamLogHandler`'s lines on standard error, with the logger's metadata formatted when a
/// line is written instead of whenever it changes.
///
/// Hummingbird gives every request a logger with its own request id; `StreamLogHandler`
/// formats all of a logger's metadata on each such change, which profiling put at 2–3 % of
/// the server's CPU per append request, for lines that are almost never written.
///
/// The logger's metadata takes precedence over a metadata provider's (`StreamLogHandler` puts
/// it below); a line's own metadata over both.
public struct FolioLogHandler: LogHandler {
    private var stream: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    /// Lines on standard error, from `level` up.
    public static func standardError(label: String, level: Logger.Level) -> FolioLogHandler {
        var stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = level
        return FolioLogHandler(stream: stream)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            event.metadata = metadata.merging(event.metadata ?? [:]) { _, line in line }
        }
        stream.log(event: event)
    }
}
