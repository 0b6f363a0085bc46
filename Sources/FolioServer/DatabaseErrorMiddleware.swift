import Hummingbird
import LibPQ

/// Turns database failures that escape a handler into SPEC §5's answers
/// (``APIError/database(_:logger:)``).
struct DatabaseErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw APIError.database(error, logger: context.logger) ?? error
        }
    }
}
