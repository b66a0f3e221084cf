"""Dataset: the files. The on-disk format (writer, reader, resume, checksums), H.264 mp4 in and out,
atomic writes, merging shards and the preview sheet. No PyBullet: evaluate reads datasets through here."""
