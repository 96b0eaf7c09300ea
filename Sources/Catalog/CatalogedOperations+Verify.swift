import Convert
import Formats
import GRDB
import Verify

/// `ckpt verify` and `ckpt convert --verify` with their catalog records (cli.md: "`verify`
/// records its result on the candidate's entry").
extension CatalogedOperations {
    /// Verifies `candidate` against `reference`, then records the result on the candidate's
    /// entry (both are registered first if the catalog does not know them yet).
    ///
    /// The verdict never depends on the catalog: one that cannot be written is reported as
    /// a warning.
    public static func verify(
        reference: String, candidate: String, input: Verification.Input = .probe,
        options: Verification.Options = Verification.Options(), catalogPath: String?
    ) throws -> (result: VerificationResult, entry: CatalogEntry?, warning: String?) {
        let result = try Verification.run(
            reference: reference, candidate: candidate, input: input, options: options)
        guard let catalogPath else { return (result, nil, nil) }
        do {
            let catalog = try Catalog(path: catalogPath)
            let ref = try catalog.register(path: reference, source: Checkpoint.open(reference))
            // Registering again refreshes a changed candidate and keeps its parent/operation.
            let cand = try catalog.register(path: candidate, source: Checkpoint.open(candidate))
            try catalog.recordVerification(
                candidate: cand.id, VerificationRecord(result, against: ref.id))
            return (result, try catalog.entry(id: cand.id), nil)
        } catch {
            return (result, nil, "catalog not updated: \(error)")
        }
    }

    /// What `convertAndVerify` did.
    public struct VerifiedConversion: Sendable {
        /// The conversion itself.
        public var result: ConversionResult
        /// The verification, when one ran.
        public var verification: VerificationResult?
        /// Why verification was skipped, when it was.
        public var skipped: String?
        /// Set when verification was due but the output could not be run (default mode only):
        /// worth a warning, unlike a plain tensor file that was never meant to be verified.
        public var skipWarning: String?
        /// The output's catalog entry, when recorded.
        public var entry: CatalogEntry?
        /// A catalog problem that did not stop the conversion.
        public var warning: String?

        /// Whether the command succeeded: converted, and verified or not asked to be.
        public var passed: Bool { verification?.passed ?? true }
    }

    /// Converts, verifies the output against the source (`verify`: nil verifies quantized
    /// outputs of an architecture ckpt runs, true requires it, false skips it), and records
    /// both in the catalog. An output that fails its thresholds stays on disk; its entry is
    /// marked `failed` and carries the verification. Limits in `thresholds` replace the
    /// defaults for the output's bits (`ConversionVerification.defaultThresholds`).
    public static func convertAndVerify(
        _ request: ConversionRequest, verify mode: ConversionVerification.Mode = nil,
        thresholds: VerificationThresholds = VerificationThresholds(), catalogPath: String?,
        progress: (@Sendable (ConversionProgress) -> Void)? = nil
    ) throws -> VerifiedConversion {
        let source = try Checkpoint.open(request.source)
        // --verify that cannot be honoured is refused before anything is written.
        if mode == true { try ConversionVerification.precheck(request, source: source) }
        let result = try Converter.convert(request, progress: progress)
        let plan = result.plan
        let decision = try ConversionVerification.decide(
            plan, source: source, mode: mode, overrides: thresholds)
        var out = VerifiedConversion(result: result)
        var verifyError: (any Error)?
        switch decision {
        case .skip(let why): out.skipped = why
        case .verify(let thresholds):
            do {
                out.verification = try ConversionVerification.run(plan, thresholds: thresholds)
            } catch let e as ConversionVerification.UnrunnableOutput where mode == nil {
                // Asked for by default only: a conversion that does not aim at a runnable
                // model (e.g. names kept as they are) still succeeds, and says why.
                out.skipped = e.description
                out.skipWarning = e.description
            } catch {
                // The output could not even be run: keep it, record it as failed, report why.
                verifyError = error
            }
        }
        guard let catalogPath else {
            if let verifyError { throw verifyError }
            return out
        }
        do {
            let catalog = try Catalog(path: catalogPath)
            let parent = try catalog.register(path: request.source, source: source)
            let opened = try? Checkpoint.open(request.destination)
            guard let output = opened else {
                // Written, but not even readable as a checkpoint: on record as failed, then
                // the verification's error (or the open's) is the command's.
                if verifyError != nil {
                    out.entry = try catalog.recordFailure(
                        path: request.destination,
                        format: CheckpointFormat(rawValue: plan.format.rawValue) ?? .safetensors,
                        parent: parent.id, operation: request.operationDescription)
                }
                _ = try Checkpoint.open(request.destination)
                return out
            }
            var entry = try catalog.register(
                path: request.destination, source: output, parent: parent.id,
                operation: request.operationDescription)
            if let v = out.verification {
                try catalog.recordVerification(
                    candidate: entry.id, VerificationRecord(v, against: parent.id))
                if !v.passed { try catalog.setStatus(.failed, of: entry.id) }
                entry = try catalog.entry(id: entry.id)
            }
            if verifyError != nil {
                try catalog.setStatus(.failed, of: entry.id)
                entry = try catalog.entry(id: entry.id)
            }
            out.entry = entry
        } catch {
            if verifyError == nil { out.warning = "catalog not updated: \(error)" }
        }
        if let verifyError { throw verifyError }
        return out
    }
}

extension VerificationRecord {
    /// The catalog row of a verification result against entry `against`.
    public init(_ r: VerificationResult, against: Int64?) {
        let s = r.statistics
        self.init(
            againstId: against, tokens: Int64(s.tokens), klMean: s.klMean, klMax: s.klMax,
            top1: s.top1Agreement, pplRef: s.pplRef, pplCand: s.pplCand,
            maxAbsError: s.maxAbsError, meanAbsError: s.meanAbsError, cosineMin: s.cosineMin, passed: r.passed)
    }
}

extension Catalog {
    /// Sets entry `id`'s status: `failed` for an output kept after its operation failed
    /// (e.g. a conversion that missed its verification thresholds).
    public func setStatus(_ status: CheckpointStatus, of id: Int64) throws(CatalogError) {
        try write { db in
            guard try CheckpointRecord.exists(db, key: id) else {
                throw CatalogError(.notFound("\(id)"))
            }
            try db.execute(
                sql: "UPDATE checkpoint SET status = ? WHERE id = ?",
                arguments: [status.rawValue, id])
        }
    }
}
