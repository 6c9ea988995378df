// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Hromada Ledger checkpoint anchor
/// @notice Publishes (logId, treeSize, root) of signed Merkle-log checkpoints as events. It keeps no
///         storage: the chain's event log is the record, read back with eth_getLogs filtered by this
///         contract's address and the indexed logId (= SHA-256 of the log's origin line).
/// @dev Event-only by design: anchoring costs calldata + one LOG2, nothing else. Only the deployer may
///      anchor (immutable owner, no transfer: deploy a new contract to change the key).
contract HromadaAnchor {
    /// @notice One checkpoint of one log.
    struct Checkpoint {
        bytes32 logId;
        uint64 treeSize;
        bytes32 root;
    }

    /// @notice A checkpoint root was anchored.
    event Anchored(bytes32 indexed logId, uint64 treeSize, bytes32 root);

    /// @notice The caller is not the owner.
    error NotOwner(address caller, address owner);
    /// @notice anchorBatch was called with no checkpoints.
    error EmptyBatch();

    /// @notice The only address allowed to anchor.
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    /// @notice Anchor one checkpoint.
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root) external {
        if (msg.sender != owner) revert NotOwner(msg.sender, owner);
        emit Anchored(logId, treeSize, root);
    }

    /// @notice Anchor checkpoints of many logs (or many sizes of one log) in one transaction.
    function anchorBatch(Checkpoint[] calldata checkpoints) external {
        if (msg.sender != owner) revert NotOwner(msg.sender, owner);
        uint256 n = checkpoints.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ) {
            Checkpoint calldata c = checkpoints[i];
            emit Anchored(c.logId, c.treeSize, c.root);
            unchecked {
                ++i;
            }
        }
    }
}
