import GatehouseCore
import ServiceLifecycle

/// The embedded document worker of `gatehouse serve --workers N`, as a service of the
/// server's service group: on SIGTERM it stops claiming and puts running jobs back in the
/// queue while the HTTP server finishes its requests.
struct JobWorkerService: Service {
    let worker: JobWorker

    func run() async throws {
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: {
            worker.stop()
        }
    }
}
