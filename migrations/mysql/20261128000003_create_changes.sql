-- sessionward: change notices between app instances (MySQL / MariaDB has no LISTEN/NOTIFY).
-- Each instance inserts a short notice when it ends or changes a session that other instances
-- may hold in memory, and polls the rows of the last seconds; rows older than a minute go.
CREATE TABLE sessionward_changes (
    seq        BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    notice     TEXT        NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    INDEX sessionward_changes_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
