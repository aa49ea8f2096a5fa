import AsyncHTTPClient
import Foundation
import NIOCore
import SeedgateDomain

/// HTTP to a URL a client gave (media, webhooks, upstream results), connected to the address the URL
/// guard checked. A name that resolves to a public address when it is checked and to a private one when
/// the connection is made (DNS rebinding) still reaches only the checked address; the Host header and
/// the TLS server name stay the URL's.
public struct GuardedClient: Sendable {
    public let configuration: HTTPClient.Configuration
    public let urlGuard: URLGuard

    /// `configuration` is the shared client's (timeouts, no redirects, no decompression); each call gets
    /// a client of its own with the checked address pinned.
    public init(configuration: HTTPClient.Configuration, urlGuard: URLGuard) {
        self.configuration = configuration
        self.urlGuard = urlGuard
    }

    /// Checks `url` (its syntax, naming `field`, and where it resolves) and runs `body` with a client
    /// that connects only to the checked address. The client lives until `body` returns, so a
    /// response's body can be streamed inside it.
    public func withClient<R: Sendable>(
        for url: String, field: String, _ body: (URL, HTTPClient) async throws -> R
    ) async throws -> R {
        let parsed: URL
        do throws(SeedgateError) {
            parsed = try urlGuard.checkSyntax(url, field: field)
        } catch {
            throw Failure(code: "url_not_allowed", message: error.message)
        }
        let address = try await urlGuard.checkResolved(parsed)
        var configuration = self.configuration
        if let host = parsed.host, IPAddress(URLGuard.bareHost(host)) == nil {
            configuration.dnsOverride = [host: address.description]
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(parsed, client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
