import AsyncHTTPClient
import Configuration
import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("S3 request signing (SigV4)")
struct S3SignerTests {
    static let awsExample = SigV4Signer(
        credentials: .init(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    /// 2013-05-24T00:00:00Z, the time of AWS's examples.
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
    static let host = "examplebucket.s3.amazonaws.com"

    /// The examples of AWS's S3 documentation, "Signature Calculations for the Authorization Header:
    /// Transferring Payload in a Single Chunk": each request and the signature AWS publishes for it.
    static let examples: [(name: String, request: SigV4Signer.Request, signedHeaders: String, signature: String)] = [
        (
            "GET Object (with Range)",
            .init(method: "GET", path: "/test.txt", headers: ["Host": host, "Range": "bytes=0-9"], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ),
        (
            "PUT Object (a key with $ in it)",
            .init(
                method: "PUT", path: "/" + SigV4Signer.encode("test$file.text", keepingSlashes: true),
                headers: ["Host": host, "Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"],
                payloadHash: SigV4Signer.payloadHash(Data("Welcome to Amazon S3.".utf8))
            ),
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ),
        (
            "GET Bucket lifecycle (an empty query value)",
            .init(method: "GET", path: "/", query: [("lifecycle", "")], headers: ["Host": host], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        ),
        (
            "GET Bucket, list objects (a sorted query)",
            .init(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: ["Host": host], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ),
    ]

    @Test("AWS's published S3 examples get AWS's published signatures", arguments: examples.indices)
    func awsExamples(_ index: Int) {
        let example = Self.examples[index]
        let headers = Self.awsExample.sign(example.request, at: Self.exampleDate)
        #expect(headers["x-amz-date"] == "20130524T000000Z", "\(example.name)")
        #expect(headers["x-amz-content-sha256"] == example.request.payloadHash, "\(example.name)")
        #expect(
            headers["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=\(example.signedHeaders),Signature=\(example.signature)",
            "\(example.name)"
        )
    }

    @Test("the GET Object example's canonical request and string to sign are AWS's, line for line")
    func awsGetObjectSteps() {
        var request = Self.examples[0].request
        request.headers["x-amz-date"] = "20130524T000000Z"
        request.headers["x-amz-content-sha256"] = SigV4Signer.emptyPayloadHash
        #expect(Self.awsExample.canonicalRequest(request) == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(Self.awsExample.stringToSign(request, at: Self.exampleDate) == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
    }

    @Test("URI encoding keeps only unreserved characters (and slashes in paths); a session token is signed")
    func encodingAndToken() {
        #expect(SigV4Signer.encode("a b/c~d_e-f.g+h=é") == "a%20b%2Fc~d_e-f.g%2Bh%3D%C3%A9")
        #expect(SigV4Signer.encode("videos/task 1.mp4", keepingSlashes: true) == "videos/task%201.mp4")
        let signer = SigV4Signer(credentials: .init(accessKeyID: "AKID", secretAccessKey: "wJalr-not-shown", sessionToken: "token"), region: "eu-west-1")
        let headers = signer.sign(.init(method: "GET", path: "/b/k", headers: ["host": "s3.example"], payloadHash: SigV4Signer.emptyPayloadHash), at: Self.exampleDate)
        #expect(headers["x-amz-security-token"] == "token")
        #expect(headers["authorization"]?.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") == true)
        #expect(headers["authorization"]?.contains("/20130524/eu-west-1/s3/aws4_request,") == true)
        #expect(!"\(signer.credentials)".contains("wJalr-not-shown"))
    }
}

@Suite("S3 blob store settings")
struct S3SettingsTests {
    func configuration(_ environment: [String: String]) async throws -> SeedgateConfiguration {
        try SeedgateConfiguration(settings: try SettingsReader.layered(values: [:], environment: environment))
    }

    func message(_ config: SeedgateConfiguration) -> String {
        do {
            try config.validate()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("--blob-store takes a directory or s3://bucket/prefix; the default is <data-dir>/blobs")
    func locations() throws {
        #expect(try BlobStoreLocation.parse("s3://results") == .s3(bucket: "results", prefix: ""))
        #expect(try BlobStoreLocation.parse("s3://results/seedgate/prod/") == .s3(bucket: "results", prefix: "seedgate/prod/"))
        #expect(try BlobStoreLocation.parse("/mnt/shared/blobs") == .directory("/mnt/shared/blobs"))
        var config = SeedgateConfiguration()
        config.dataDirectory = "/srv/sg"
        #expect(try config.blobStoreLocation() == .directory("/srv/sg/blobs"))
        for bad in ["s3://Results", "s3://ab", "s3://-bucket", "s3://bucket/../x", "s3://bucket/a b", "gs://bucket", ""] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try BlobStoreLocation.parse(bad) }
        }
    }

    @Test("S3 settings come from SEEDGATE_ variables, credentials fall back to the AWS_ pair, and bad ones are refused by name")
    func environment() async throws {
        let full = try await configuration([
            "SEEDGATE_BLOB_STORE": "s3://results/p", "SEEDGATE_S3_ENDPOINT": "http://127.0.0.1:9000/", "SEEDGATE_S3_REGION": "eu-central-1",
            "SEEDGATE_S3_ACCESS_KEY_ID": "own", "SEEDGATE_S3_SECRET_ACCESS_KEY": "own-secret",
            "AWS_ACCESS_KEY_ID": "aws", "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_SESSION_TOKEN": "aws-token",
        ])
        #expect(message(full) == "")
        #expect(try full.blobStoreLocation() == .s3(bucket: "results", prefix: "p/"))
        #expect(full.s3Region == "eu-central-1")
        #expect(try full.s3CredentialsValue() == .init(accessKeyID: "own", secretAccessKey: "own-secret"))
        let endpoint = try full.s3EndpointValue()
        #expect(endpoint.origin == "http://127.0.0.1:9000" && endpoint.hostHeader == "127.0.0.1:9000" && endpoint.basePath == "")

        let aws = try await configuration(["SEEDGATE_BLOB_STORE": "s3://results", "AWS_ACCESS_KEY_ID": "aws", "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_SESSION_TOKEN": "t"])
        #expect(try aws.s3CredentialsValue() == .init(accessKeyID: "aws", secretAccessKey: "aws-secret", sessionToken: "t"))
        #expect(try aws.s3EndpointValue().origin == "https://s3.us-east-1.amazonaws.com")

        #expect(message(try await configuration(["SEEDGATE_BLOB_STORE": "s3://results"])).contains("SEEDGATE_S3_ACCESS_KEY_ID and SEEDGATE_S3_SECRET_ACCESS_KEY"))
        // Half of Seedgate's pair is not completed from the AWS pair.
        let half = try await configuration(["SEEDGATE_BLOB_STORE": "s3://results", "SEEDGATE_S3_ACCESS_KEY_ID": "own", "AWS_SECRET_ACCESS_KEY": "aws-secret"])
        #expect(message(half).contains("incomplete"))
        let endpointOnly = try await configuration(["SEEDGATE_S3_ENDPOINT": "http://127.0.0.1:9000"])
        #expect(message(endpointOnly).contains("--blob-store s3://bucket"))
        let badEndpoint = try await configuration(["SEEDGATE_BLOB_STORE": "s3://results", "SEEDGATE_S3_ENDPOINT": "127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(message(badEndpoint).contains("SEEDGATE_S3_ENDPOINT"))
        #expect(message(try await configuration(["SEEDGATE_BLOB_STORE": "s3://Bad_Bucket"])).contains("SEEDGATE_BLOB_STORE"))
    }
}

@Suite("S3 blob store against a real S3-compatible server (moto)")
struct S3BlobStoreTests {
    static func randomFile(bytes count: Int) throws -> (path: String, data: Data) {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let path = TestSupport.temporaryDirectory() + "/blob.bin"
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    @Test("put, size, ranged reads and delete round-trip, under a prefix, through signed requests moto checks")
    func roundTrip() async throws {
        try await MotoServer.with { moto in
            let store = try moto.store(prefix: "/replicas/a/")
            let (path, data) = try Self.randomFile(bytes: 700_001)
            try await store.put(file: path, key: "videos/task_1.mp4")
            #expect(!FileManager.default.fileExists(atPath: path), "put moves the file in")
            #expect(try await store.size(of: "videos/task_1.mp4") == Int64(data.count))

            let whole = try #require(try await store.read(key: "videos/task_1.mp4", range: 0...Int64(data.count - 1)))
            #expect(try await CollectingWriter.collect(whole) == data)
            let middle = try #require(try await store.read(key: "videos/task_1.mp4", range: 300_000...300_099))
            #expect(try await CollectingWriter.collect(middle) == data[300_000...300_099])
            let last = try #require(try await store.read(key: "videos/task_1.mp4", range: Int64(data.count - 1)...Int64(data.count - 1)))
            #expect(try await CollectingWriter.collect(last) == data.suffix(1))

            // Another replica's store on the same bucket and prefix sees the same object; another prefix does not.
            #expect(try await moto.store(prefix: "replicas/a").size(of: "videos/task_1.mp4") == Int64(data.count))
            #expect(try await moto.store(prefix: "replicas/b").size(of: "videos/task_1.mp4") == nil)

            #expect(try await store.size(of: "videos/missing.mp4") == nil)
            #expect(try await store.read(key: "videos/missing.mp4", range: 0...9) == nil)
            #expect(try await store.size(of: "../escape") == nil)
            try await store.delete(key: "videos/task_1.mp4")
            #expect(try await store.size(of: "videos/task_1.mp4") == nil)
            try await store.delete(key: "videos/task_1.mp4")   // already gone: no error
        }
    }

    @Test("a wrong secret is refused by the server, the file stays, and start-up checks name the problem")
    func refusals() async throws {
        try await MotoServer.with { moto in
            let wrong = SigV4Signer.Credentials(accessKeyID: moto.credentials.accessKeyID, secretAccessKey: "not-the-secret")
            let (path, _) = try Self.randomFile(bytes: 1000)
            let error = await #expect(throws: S3Error.self) { try await moto.store(credentials: wrong).put(file: path, key: "videos/x.mp4") }
            #expect(error?.status == 403 && error?.code == "SignatureDoesNotMatch", "\(String(describing: error))")
            #expect(FileManager.default.fileExists(atPath: path), "a failed put keeps the local file")

            try await moto.store().checkAccess()
            let badKey = await #expect(throws: ConfigurationError.self) { try await moto.store(credentials: wrong).checkAccess() }
            #expect(badKey?.description.contains("refused access key") == true, "\(String(describing: badKey))")
            let noBucket = S3BlobStore(
                endpoint: try S3Endpoint(moto.endpoint), bucket: "no-such-bucket", region: "us-east-1",
                credentials: moto.credentials, client: .shared, logger: TestSupport.logger
            )
            let missing = await #expect(throws: ConfigurationError.self) { try await noBucket.checkAccess() }
            #expect(missing?.description.contains("'no-such-bucket' does not exist") == true, "\(String(describing: missing))")
        }
    }

    @Test("a gateway whose S3 endpoint does not answer refuses to start, saying so")
    func unreachableAtStart() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await withGateway(configure: { config in
                config.blobStore = "s3://results"
                config.s3Endpoint = "http://127.0.0.1:9"
                config.s3AccessKeyID = "a"
                config.s3SecretAccessKey = "b"
            }) { _ in }
        }
    }
}

@Suite("S3 replicas: results readable from any replica")
struct S3ReplicaTests {
    static let render = #"{"model": "doubao-seedance-2.0", "prompt": "shared", "duration": 4, "return_last_frame": true}"#

    /// The issue's "done when": on PostgreSQL, two gateways on one database and one bucket (with separate
    /// data directories, so no file is shared but through S3): one renders, the other, API-only, serves
    /// the video whole, by Range and by HEAD, through its own signed link and the first one's. On SQLite
    /// (one gateway per database), the gateway serves from the bucket and another store instance reads
    /// the same bytes there.
    @Test("a video rendered by one replica is downloadable, whole and by Range, through another replica", arguments: Backend.all)
    func sharedResults(_ backend: Backend) async throws {
        try await MotoServer.with { moto in
            let databaseURL = backend == .postgres ? try await Backend.freshPostgresDatabase() : nil
            try await withGateway(configure: { config in
                moto.configure(&config, prefix: "shared")
                config.databaseURL = databaseURL
            }) { renderer in
                let key = try await renderer.newKey()
                let id = try await renderer.generate(Self.render, key: key)
                let done = try await renderer.finishedVideo(id, key: key)
                try #require(done.body["data"]["status"].string == "completed", "\(done.text)")
                let rendererURL = try #require(done.body["data"]["result"]["videos"][0]["url"][0].string)
                let original = try await renderer.download(rendererURL)
                #expect(original.status == 200 && original.body.count > 1000)
                #expect(!FileManager.default.fileExists(atPath: "\(renderer.dataDirectory)/blobs/videos/\(id).mp4"), "the file is in the bucket, not on disk")
                let inBucket = try await moto.store(prefix: "shared").read(key: "videos/\(id).mp4", range: 0...Int64(original.body.count - 1))
                #expect(try await CollectingWriter.collect(try #require(inBucket)) == original.body)

                guard let databaseURL else { return }
                try await withGateway(configure: { config in
                    moto.configure(&config, prefix: "shared")
                    config.databaseURL = databaseURL
                    config.runWorkers = false
                }) { other in
                    let view = try await other.get("/v1/tasks/\(id)", key: key)
                    let url = try #require(view.body["data"]["result"]["videos"][0]["url"][0].string)
                    let whole = try await other.download(url)
                    #expect(whole.status == 200 && whole.headers[.contentType] == "video/mp4")
                    #expect(whole.body == original.body, "the same bytes through the other replica")
                    let part = try await other.download(url, headers: [.range: "bytes=1000-1999"])
                    #expect(part.status == 206 && part.headers[.contentRange] == "bytes 1000-1999/\(original.body.count)")
                    #expect(part.body == original.body[1000...1999])
                    let tail = try await other.download(url, headers: [.range: "bytes=-100"])
                    #expect(tail.status == 206 && tail.body == original.body.suffix(100))
                    let head = try await other.download(url, method: .head)
                    #expect(head.status == 200 && head.headers[.contentLength] == String(original.body.count) && head.body.isEmpty)
                    #expect(try await other.download(rendererURL).body == original.body, "the first replica's link works here too")
                    let frame = try await other.download(try #require(view.body["data"]["result"]["last_frame_url"].string))
                    #expect(frame.status == 200 && frame.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                    #expect(!FileManager.default.fileExists(atPath: "\(other.dataDirectory)/blobs/videos/\(id).mp4"))
                }
            }
        }
    }

    @Test("an S3 store that stops answering is a 503 that names nothing internal; after retention the file is a 404")
    func storeFailures() async throws {
        try await MotoServer.with { moto in
            try await withGateway(configure: { moto.configure(&$0) }) { gw in
                let key = try await gw.newKey()
                let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "gone", "duration": 4}"#, key: key)
                let done = try await gw.finishedVideo(id, key: key)
                let url = try #require(done.body["data"]["result"]["videos"][0]["url"][0].string)
                #expect(try await gw.download(url).status == 200)

                let sweeper = RetentionSweeper(store: gw.store, blobs: try moto.store(), retention: .seconds(3600), logger: TestSupport.logger)
                try await sweeper.sweep(now: Date().addingTimeInterval(7200))
                let gone = try await gw.download(url)
                #expect(gone.status == 404)
                #expect(String(decoding: gone.body, as: UTF8.self).contains("file_not_found"))

                await moto.stop()
                let down = try await gw.download(url)
                let text = String(decoding: down.body, as: UTF8.self)
                #expect(down.status == 503 && down.headers[.retryAfter] == "5", "\(text)")
                #expect(text.contains("file_store_unavailable"))
                #expect(!text.contains("127.0.0.1") && !text.contains(moto.bucket) && !text.lowercased().contains("s3"), "\(text)")
            }
        }
    }
}

@Suite("S3 blob store from the command line")
struct S3CommandLineTests {
    @Test("serve --blob-store s3://... --s3-endpoint with SEEDGATE_S3_ keys serves; a wrong secret stops the start with the reason")
    func serve() async throws {
        try await MotoServer.with { moto in
            let arguments = ["--blob-store", "s3://\(moto.bucket)/cli", "--s3-endpoint", moto.endpoint, "--s3-region", "us-east-1"]
            var environment = ["SEEDGATE_S3_ACCESS_KEY_ID": moto.credentials.accessKeyID, "SEEDGATE_S3_SECRET_ACCESS_KEY": "wrong-secret-Xy9"]
            let refused = try ServerProcess(directory: TestSupport.temporaryDirectory(), arguments: arguments, environment: environment)
            #expect(await refused.child.wait() != 0)
            let said = await refused.read(until: "refused access key", timeout: 5)
            #expect(said.contains("blob store s3://\(moto.bucket)/cli/: \(moto.endpoint) refused access key '\(moto.credentials.accessKeyID)'"), "\(said)")
            #expect(!said.contains("wrong-secret-Xy9"), "the secret is never printed")
            refused.child.removeOutput()

            environment["SEEDGATE_S3_SECRET_ACCESS_KEY"] = moto.credentials.secretAccessKey
            let server = try ServerProcess(directory: TestSupport.temporaryDirectory(), arguments: arguments, environment: environment)
            _ = try await server.port()
            let log = await server.read(until: "blob_store=")
            #expect(log.contains("blob_store=s3://\(moto.bucket)/cli/"), "\(log)")
            await server.stop()
        }
    }
}
