import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Synchronization

/// A real S3-compatible server for one test: moto (`python3 -m moto.server`) on a free loopback port.
/// It gets an IAM user whose keys sign every request, one empty bucket, and then signature checking is
/// switched on, so a wrongly signed request fails here as it would on S3. Killed when the test ends.
struct MotoServer: Sendable {
    let child: TestProcess.Child
    let endpoint: String
    let bucket: String
    let credentials: SigV4Signer.Credentials
    /// Set by the first `stop()`: the process is reaped then, and its pid may soon be another's.
    let stopped = OnceFlag()

    /// Runs `body` with a fresh server, and kills the server afterwards, whatever happened.
    static func with<R: Sendable>(_ body: (MotoServer) async throws -> R) async throws -> R {
        let server = try await start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    static func start() async throws -> MotoServer {
        let port = try await freePort()
        let child = try TestProcess.start("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)])
        let endpoint = "http://127.0.0.1:\(port)"
        do {
            try await waitUntilAnswering(endpoint, child: child)
            let setup = SigV4Signer.Credentials(accessKeyID: "AKIASETUP", secretAccessKey: "setup")
            let credentials = try await createUser(endpoint, signingWith: setup)
            let bucket = "seedgate-\(UUID().uuidString.prefix(8).lowercased())"
            let created = try await send(endpoint, "PUT", "/\(bucket)", credentials: setup, service: "s3")
            guard created.status == 200 else { throw FixtureError("moto: creating bucket \(bucket) answered \(created.status): \(created.body)") }
            // From here on moto checks every request's signature against the IAM user's keys.
            let auth = try await send(endpoint, "POST", "/moto-api/reset-auth", body: "0", credentials: nil, service: "")
            guard auth.status == 200 else { throw FixtureError("moto: switching authentication on answered \(auth.status)") }
            return MotoServer(child: child, endpoint: endpoint, bucket: bucket, credentials: credentials)
        } catch {
            child.kill()
            _ = await child.wait()
            child.removeOutput()
            throw error
        }
    }

    func stop() async {
        guard stopped.setOnce() else { return }
        child.kill()
        _ = await child.wait()
        child.removeOutput()
    }

    /// A store on this server's bucket, as a replica would open it.
    func store(prefix: String = "", credentials: SigV4Signer.Credentials? = nil) throws -> S3BlobStore {
        S3BlobStore(
            endpoint: try S3Endpoint(endpoint), bucket: bucket, prefix: prefix, region: "us-east-1",
            credentials: credentials ?? self.credentials, client: .shared, logger: TestSupport.logger
        )
    }

    /// Points a gateway's configuration at this server's bucket.
    func configure(_ config: inout SeedgateConfiguration, prefix: String = "") {
        config.blobStore = "s3://\(bucket)/\(prefix)"
        config.s3Endpoint = endpoint
        config.s3AccessKeyID = credentials.accessKeyID
        config.s3SecretAccessKey = credentials.secretAccessKey
    }

    // MARK: Start-up

    /// A port the kernel just handed out and nobody holds.
    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw FixtureError("could not find a free port") }
        return port
    }

    private static func waitUntilAnswering(_ endpoint: String, child: TestProcess.Child) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let reply = try? await send(endpoint, "GET", "/", credentials: nil, service: ""), reply.status == 200 { return }
            let stderr = String(decoding: child.output().stderr, as: UTF8.self)
            if stderr.contains("No module named") {
                throw FixtureError("moto's server is not installed: pip install 'moto[server]' (\(stderr))")
            }
            if stderr.contains("Traceback") { throw FixtureError("moto did not start: \(stderr)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FixtureError("moto did not answer on \(endpoint) within 30 s: \(String(decoding: child.output().stderr, as: UTF8.self))")
    }

    /// Makes an IAM user allowed everything on S3 and returns a key pair of it.
    private static func createUser(_ endpoint: String, signingWith setup: SigV4Signer.Credentials) async throws -> SigV4Signer.Credentials {
        let policy = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"#
        let calls: [[(String, String)]] = [
            [("Action", "CreateUser"), ("UserName", "seedgate")],
            [("Action", "PutUserPolicy"), ("UserName", "seedgate"), ("PolicyName", "s3"), ("PolicyDocument", policy)],
            [("Action", "CreateAccessKey"), ("UserName", "seedgate")],
        ]
        var last = ""
        for parameters in calls {
            let form = (parameters + [("Version", "2010-05-08")]).map { "\($0.0)=\(SigV4Signer.encode($0.1))" }.joined(separator: "&")
            let reply = try await send(
                endpoint, "POST", "/", headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8"], body: form,
                credentials: setup, service: "iam"
            )
            guard reply.status == 200 else { throw FixtureError("moto IAM \(parameters[0].1) answered \(reply.status): \(reply.body)") }
            last = reply.body
        }
        guard let id = S3BlobStore.element("AccessKeyId", in: last), let secret = S3BlobStore.element("SecretAccessKey", in: last) else {
            throw FixtureError("moto IAM CreateAccessKey: no key in \(last)")
        }
        return SigV4Signer.Credentials(accessKeyID: id, secretAccessKey: secret)
    }

    /// One request to moto, signed for `service` when there are credentials.
    static func send(
        _ endpoint: String, _ method: String, _ path: String, headers: [String: String] = [:], body: String = "",
        credentials: SigV4Signer.Credentials?, service: String
    ) async throws -> (status: Int, body: String) {
        var all = headers
        if let credentials {
            all["host"] = String(endpoint.dropFirst("http://".count))
            let hash = SigV4Signer.payloadHash(Data(body.utf8))
            all = SigV4Signer(credentials: credentials, region: "us-east-1", service: service)
                .sign(.init(method: method, path: path, headers: all, payloadHash: hash), at: Date())
        }
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .init(rawValue: method)
        for (name, value) in all { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (Int(response.status.code), text)
    }
}

/// True once, for the first caller.
final class OnceFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func setOnce() -> Bool {
        flag.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }
}

/// Collects a response body that a blob store streams, for tests that check the bytes.
/// Reads a blob's whole content, for comparing with what was stored.
enum CollectingWriter {
    static func collect(_ content: BlobContent) async throws -> Data {
        var data = Data()
        try await content.write { data.append(contentsOf: $0.readableBytesView) }
        return data
    }
}
