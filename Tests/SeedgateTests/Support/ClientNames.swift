import SeedgateClient

/// The SDK's task type, named apart from the domain's (a file that imports only the SDK sees one).
typealias ClientVideoTask = VideoTask
