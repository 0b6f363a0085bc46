import CLibPQ
import Foundation

extension Connection {
    /// Sends every query without waiting for answers, then one Sync, and reads all results:
    /// one network round trip for the whole batch.
    ///
    /// A pipeline runs as one implicit transaction (unless an explicit one is open): if a
    /// statement fails, the later ones are skipped, everything is rolled back, and the first
    /// error is thrown. A transaction block the pipeline itself opened (`BEGIN` … `COMMIT`) is
    /// rolled back too, so the session is left as it was.
    @discardableResult
    public func pipeline(_ queries: [PostgresQuery]) throws -> [QueryResult] {
        try runPipeline(count: queries.count) { index in
            let query = queries[index]
            return withParameters(query.binds) { count, types, values, lengths, formats in
                PQsendQueryParams(handle, query.sql, count, types, values, lengths, formats, 0)
            }
        } binds: { queries[$0].binds }
    }

    /// Runs one prepared statement once per element of `bindings`, pipelined.
    @discardableResult
    public func pipeline(_ statement: PreparedStatement, bindings: [PostgresBindings]) throws -> [QueryResult] {
        try pipeline(bindings.map { .prepared(statement, $0) })
    }

    /// Runs a mix of plain and prepared statements, pipelined.
    @discardableResult
    public func pipeline(_ steps: [PipelineStep]) throws -> [QueryResult] {
        try runPipeline(count: steps.count) { index in
            switch steps[index] {
            case .query(let query):
                return withParameters(query.binds) { count, types, values, lengths, formats in
                    PQsendQueryParams(handle, query.sql, count, types, values, lengths, formats, 0)
                }
            case .prepared(let statement, let binds):
                return withParameters(binds) { count, _, values, lengths, formats in
                    PQsendQueryPrepared(handle, statement.name, count, values, lengths, formats, 0)
                }
            }
        } binds: { steps[$0].binds }
    }

    private func runPipeline(
        count: Int, send: (Int) -> Int32, binds: (Int) -> PostgresBindings
    ) throws -> [QueryResult] {
        if count == 0 { return [] }
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError.misuse("cannot enter pipeline mode: \(String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines)")
        }
        let startedIdle = transactionStatus == .idle
        defer { PQexitPipelineMode(handle) }
        // Non-blocking while sending: if the server's answers fill the socket while we are
        // still writing, we read them into libpq's buffer instead of deadlocking.
        PQsetnonblocking(handle, 1)
        do {
            for index in 0..<count {
                guard send(index) == 1 else { throw connectionError() }
                if index % 64 == 63 { try flushAll() }
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError() }
            try flushAll()
        } catch {
            PQsetnonblocking(handle, 0)
            throw error
        }
        PQsetnonblocking(handle, 0)
        do {
            return try readPipelineResults(count: count, binds: binds)
        } catch {
            // A failed statement skips the rest, a COMMIT included: if the pipeline opened a
            // transaction block (an explicit BEGIN), it is left aborted. Close it, so the
            // session is as the caller had it.
            if startedIdle, isHealthy, transactionStatus != .idle {
                PQexitPipelineMode(handle)
                _ = try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Reads one result per statement, then the Sync marker.
    private func readPipelineResults(count: Int, binds: (Int) -> PostgresBindings) throws -> [QueryResult] {
        var results: [QueryResult] = []
        results.reserveCapacity(count)
        var firstError: PostgresError?
        var index = 0
        var sawResultForIndex = false
        while true {
            guard let result = PQgetResult(handle) else {
                // NULL ends the results of one statement.
                if !isHealthy { throw connectionError() }
                if sawResultForIndex {
                    index += 1
                    sawResultForIndex = false
                }
                continue
            }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            sawResultForIndex = true
            switch status {
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
                let error = serverError(from: result, binds: index < count ? binds(index) : nil)
                PQclear(result)
                if firstError == nil { firstError = error }
                if !isHealthy { throw error }
            default:
                do {
                    results.append(try check(result, context: "pipelined statement \(index + 1)", binds: nil))
                } catch let error as PostgresError {
                    if firstError == nil { firstError = error }
                }
            }
        }
        if let firstError { throw firstError }
        guard results.count == count else {
            throw PostgresError.unexpectedResult(status: "\(results.count) results", context: "pipeline of \(count) statements")
        }
        return results
    }

    /// Flushes libpq's output buffer, reading input meanwhile so the server never blocks.
    private func flushAll() throws {
        while true {
            let flushed = PQflush(handle)
            if flushed == 0 { return }
            if flushed < 0 { throw connectionError() }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN | POLLOUT), revents: 0)
            let ready = poll(&descriptor, 1, 30_000)
            if ready < 0 && errno != EINTR { throw PostgresError.connectionLost(message: "poll failed: errno \(errno)") }
            if descriptor.revents & Int16(POLLIN) != 0 {
                guard PQconsumeInput(handle) == 1 else { throw connectionError() }
            }
        }
    }
}

/// One statement of a pipeline.
public enum PipelineStep: Sendable {
    case query(PostgresQuery)
    case prepared(PreparedStatement, PostgresBindings)

    /// The values bound to the step.
    public var binds: PostgresBindings {
        switch self {
        case .query(let query): return query.binds
        case .prepared(_, let binds): return binds
        }
    }
}
