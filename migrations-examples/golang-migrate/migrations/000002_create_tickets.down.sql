DROP TABLE ticket_comments;
DROP TABLE tickets;
