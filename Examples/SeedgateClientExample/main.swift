// The README's Swift example: from a photo on disk to a video on disk.
// Run: SEEDGATE_URL=http://127.0.0.1:8080 SEEDGATE_API_KEY=sk-sg-... swift run seedgate-example ./cat.jpg
import Foundation
import SeedgateClient

let environment = ProcessInfo.processInfo.environment
let client = SeedgateClient(
    baseURL: environment["SEEDGATE_URL"] ?? "http://127.0.0.1:8080",
    apiKey: environment["SEEDGATE_API_KEY"] ?? ""
)
let photo = CommandLine.arguments.dropFirst().first ?? "cat.jpg"

let image = try await client.upload(file: photo, type: .image)
let taskID = try await client.generate(GenerationOptions(prompt: "The kitten walks toward the camera", duration: 5, images: [image.url]))
for try await update in client.follow(taskID: taskID) {
    print(update.status.rawValue, "\(update.progress)%")
}
let task = try await client.task(id: taskID)
guard let video = task.videoURL else { fatalError("the task ended \(task.status.rawValue): \(task.errorMessage ?? "")") }
try await client.download(video, to: "kitten.mp4") { written, total in
    print("downloaded \(written) of \(total.map(String.init) ?? "?") bytes")
}
