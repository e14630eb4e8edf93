-- 014_slack_channel_index: a change counter for the in-memory channel index
-- (issue 8, GET /api/v1/slack/channels in under 5 ms). Each replica keeps
-- a copy of slack_channels in memory for the search and reloads it when
-- this number moves: every statement that changes at least one row of
-- slack_channels (a walk's merge, an event, on any replica) adds one. A
-- statement that matched nothing (member_joined_channel for someone other
-- than the bot, a walk that found no difference) does not.
ALTER TABLE slack_directory_state ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION slack_channels_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM changed) THEN
		UPDATE slack_directory_state SET version = version + 1 WHERE kind = 'channels';
	END IF;
	RETURN NULL;
END
$$;

-- A trigger with a transition table may have one event only: three of them.
CREATE TRIGGER slack_channels_inserted AFTER INSERT ON slack_channels
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION slack_channels_changed();
CREATE TRIGGER slack_channels_updated AFTER UPDATE ON slack_channels
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION slack_channels_changed();
CREATE TRIGGER slack_channels_deleted AFTER DELETE ON slack_channels
	REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION slack_channels_changed();
CREATE FUNCTION slack_channels_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE slack_directory_state SET version = version + 1 WHERE kind = 'channels';
	RETURN NULL;
END
$$;
CREATE TRIGGER slack_channels_truncated AFTER TRUNCATE ON slack_channels
	FOR EACH STATEMENT EXECUTE FUNCTION slack_channels_truncated();
