SET lock_timeout = '2s';

-- Add the foreign key without scanning, then validate with a weaker lock.
ALTER TABLE notes.notes
    ADD CONSTRAINT notes_notebook_id_fkey FOREIGN KEY (notebook_id)
    REFERENCES notes.notebooks (id) NOT VALID;

ALTER TABLE notes.notes VALIDATE CONSTRAINT notes_notebook_id_fkey;
