"""Operations code: backups and restores, health checks (doctor)."""
