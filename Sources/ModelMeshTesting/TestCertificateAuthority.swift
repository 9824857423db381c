import Foundation
import NIOSSL

/// A throwaway certificate authority and a server certificate it signed, made with the
/// `openssl` command in a temporary directory: for HTTPS fake upstreams in tests.
///
/// ```swift
/// let ca = try TestCertificateAuthority.make(names: ["localhost"], addresses: ["127.0.0.1"])
/// let fake = try await FakeUpstream.start(tls: try ca.serverContext())
/// var settings = HTTPTransport.Configuration()
/// settings.additionalTrustRoots = [ca.certificateFile]
/// ```
public struct TestCertificateAuthority: Sendable {
    /// The CA's certificate (PEM): trust it in the client.
    public let certificateFile: String
    /// The server's certificate chain (PEM).
    public let serverCertificateFile: String
    /// The server's private key (PEM).
    public let serverKeyFile: String

    /// `openssl` failed or is missing.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Creates a CA and a server certificate for the DNS `names` and IP `addresses`, valid
    /// for a day.
    public static func make(names: [String] = ["localhost"], addresses: [String] = ["127.0.0.1"]) throws
        -> TestCertificateAuthority
    {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("modelmesh-ca-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = directory + "/ca.pem"
        let caKey = directory + "/ca.key"
        let key = directory + "/server.key"
        let request = directory + "/server.csr"
        let certificate = directory + "/server.pem"
        let extensions = directory + "/server.ext"
        let alternatives = names.map { "DNS:\($0)" } + addresses.map { "IP:\($0)" }
        try "subjectAltName=\(alternatives.joined(separator: ","))\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=ModelMesh Test CA", "-keyout", caKey, "-out", ca,
        ])
        try run([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=\(names.first ?? addresses.first ?? "server")", "-keyout", key, "-out", request,
        ])
        try run([
            "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1",
            "-extfile", extensions, "-out", certificate,
        ])
        return TestCertificateAuthority(certificateFile: ca, serverCertificateFile: certificate, serverKeyFile: key)
    }

    /// A server TLS context presenting the server certificate.
    public func serverContext() throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(serverCertificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: serverKeyFile, format: .pem)
        return try NIOSSLContext(
            configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw Failure(description: "Could not run openssl (install it: apt-get install openssl): \(error)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "openssl \(arguments.first ?? "") failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
