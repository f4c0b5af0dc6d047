import Foundation
import Wire
import WorldCore
import ZeroMQ

extension WorkerNode {
    /// Registers with the coordinator and waits (bounded) for the first shard map.
    func joinCluster(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var poller = Poller()
        poller.add(coordinatorSocket!)
        var lastAsk = ContinuousClock.now - .seconds(1)
        while ContinuousClock.now < deadline && !Shutdown.isRequested {
            if ContinuousClock.now - lastAsk >= .milliseconds(500) {
                sendToCoordinator(.registerWorker(.with { $0.workerID = options.id; $0.endpoint = endpoint }))
                lastAsk = .now
            }
            do {
                if try !poller.poll(timeoutMilliseconds: 100).isEmpty { try drainCoordinator() }
            } catch {
                logger.error("coordinator socket failed: \(error)")
                return false
            }
            if mapEpoch > 0 { return true }
        }
        return false
    }

    func sendToCoordinator(_ body: Envelope.OneOf_Body) {
        var envelope = Envelope()
        envelope.requestID = nextCoordinatorRequest
        nextCoordinatorRequest += 1
        envelope.sender = sender
        envelope.body = body
        do {
            try coordinatorSocket?.send([WireFormat.encode(envelope)], dontWait: true)
        } catch {
            logger.warning("coordinator unreachable; serving with map \(mapEpoch)", metadata: ["error": "\(error)"])
        }
    }

    func drainCoordinator() throws(ZMQError) {
        while let frames = try coordinatorSocket?.receive(dontWait: true) {
            guard let last = frames.last, let envelope = try? WireFormat.decode(last) else { continue }
            if case .shardMap(let map)? = envelope.body { adopt(map) }
        }
    }

    /// Serves the cells a new map gives this worker, under its epoch.
    func adopt(_ map: Cellcluster_V1_ShardMap) {
        guard map.epoch > mapEpoch else { return }
        do {
            let partition = try map.partitionMap(grid: shard.settings.grid)
            guard partition.workers.contains(options.id) else {
                logger.warning("map \(map.epoch) gives this worker no cells")
                return
            }
            shard.ownership = Ownership(map: partition, worker: options.id)
            shard.epoch = map.epoch
            mapEpoch = map.epoch
            peers = map.endpoints
            logger.info("shard map adopted", metadata: ["epoch": "\(map.epoch)", "cells": "\(partition.cells(of: options.id).count)"])
        } catch {
            logger.error("shard map refused: \(error)")
        }
    }

    /// The owner of a cell when it is another worker; nil when this worker serves it.
    func otherOwner(of cell: CellID) -> (worker: String, endpoint: String)? {
        guard let ownership = shard.ownership, shard.settings.grid.contains(cell), !ownership.owns(cell) else { return nil }
        let owner = ownership.map.owner(of: cell)
        return (owner, peers[owner] ?? "")
    }
}
