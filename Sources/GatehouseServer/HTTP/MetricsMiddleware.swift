import Hummingbird

/// Counts every request by route template and status and records its latency. Sits outside
/// `ProblemMiddleware`, so errors are counted with the status the client saw.
///
/// A request whose client went away while it was being read is counted as `499` (nginx's
/// "client closed request", set by `ProblemMiddleware`), not as the error reading it met.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(method: request.method.rawValue, route: route == "NotFound" ? "unmatched" : route,
                              status: response.status.code,
                              duration: ContinuousClock.now - start)
        return response
    }
}
