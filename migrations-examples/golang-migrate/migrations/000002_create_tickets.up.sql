CREATE TABLE tickets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject      text NOT NULL,
    requester    text NOT NULL,
    assignee_id  bigint REFERENCES agents (id),
    status       text NOT NULL DEFAULT 'open',
    opened_at    timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);

CREATE TABLE ticket_comments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author      text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
