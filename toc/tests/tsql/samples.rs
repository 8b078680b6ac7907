//! The samples of `tsql.rs`: scripts written here after the layouts of real SSMS output, one
//! piece per object, each with what its object should be.

use toc::{Kind, Section};

/// What one object should be: kind, tool kind, database, schema, name, section, rows.
pub type Want = (Kind, &'static str, Option<&'static str>, Option<&'static str>, &'static str, Section, Option<u64>);

pub const PRE: Section = Section::PreData;
const DATA: Section = Section::Data;
const POST: Section = Section::PostData;
const SHOP: Option<&str> = Some("Shop");
const DBO: Option<&str> = Some("dbo");

/// SSMS 18-20, Generate Scripts of a whole database with schema and data: the database, its
/// user, schema, sequence and function, every table, a view, then every table's rows, indexes,
/// header-less defaults and constraints, procedures and triggers, and `USE [master]` at the end.
pub const SSMS_2019: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "USE [master]\nGO\n"),
    ((Kind::Database, "Database", None, None, "Shop", PRE, None), "/****** Object:  Database [Shop]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE DATABASE [Shop]
 CONTAINMENT = NONE
 ON  PRIMARY 
( NAME = N'Shop', FILENAME = N'C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\Shop.mdf' , SIZE = 8192KB , FILEGROWTH = 65536KB )
 LOG ON 
( NAME = N'Shop_log', FILENAME = N'C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\Shop_log.ldf' , SIZE = 8192KB , FILEGROWTH = 65536KB )
 WITH CATALOG_COLLATION = DATABASE_DEFAULT, LEDGER = OFF
GO
ALTER DATABASE [Shop] SET COMPATIBILITY_LEVEL = 160
GO
IF (1 = FULLTEXTSERVICEPROPERTY('IsFullTextInstalled'))
begin
EXEC [Shop].[dbo].[sp_fulltext_database] @action = 'enable'
end
GO
ALTER DATABASE [Shop] SET ANSI_NULL_DEFAULT OFF 
GO
ALTER DATABASE [Shop] SET QUERY_STORE = ON
GO
USE [Shop]
GO
USE [Shop]
GO
"),
    ((Kind::Other, "User", SHOP, None, "app", PRE, None), "/****** Object:  User [app]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE USER [app] FOR LOGIN [app] WITH DEFAULT_SCHEMA=[dbo]
GO
ALTER ROLE [db_datareader] ADD MEMBER [app]
GO
"),
    ((Kind::Schema, "Schema", SHOP, None, "sales", PRE, None), "/****** Object:  Schema [sales]    Script Date: 12/7/2026 10:00:00 AM ******/\nCREATE SCHEMA [sales]\nGO\n"),
    ((Kind::Sequence, "Sequence", SHOP, DBO, "OrderNumbers", PRE, None), "/****** Object:  Sequence [dbo].[OrderNumbers]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE SEQUENCE [dbo].[OrderNumbers] 
 AS [bigint]
 START WITH 1
 INCREMENT BY 1
 CACHE 
GO
"),
    ((Kind::Function, "UserDefinedFunction", SHOP, DBO, "Total", PRE, None), "/****** Object:  UserDefinedFunction [dbo].[Total]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE FUNCTION [dbo].[Total](@qty int, @price money)
RETURNS money
AS
BEGIN
\tRETURN @qty * @price
END
GO
"),
    ((Kind::Table, "Table", SHOP, DBO, "Customers", PRE, None), "/****** Object:  Table [dbo].[Customers]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Customers](
\t[Id] [int] IDENTITY(1,1) NOT NULL,
\t[Name] [nvarchar](100) NOT NULL,
 CONSTRAINT [PK_Customers] PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
"),
    ((Kind::Table, "Table", SHOP, DBO, "Orders", PRE, None), "/****** Object:  Table [dbo].[Orders]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Orders](
\t[Id] [int] NOT NULL,
\t[CustomerId] [int] NOT NULL,
\t[Qty] [int] NOT NULL,
\t[Note] [nvarchar](200) NULL,
\t[CreatedAt] [datetime2](7) NOT NULL,
PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
"),
    ((Kind::Table, "Table", SHOP, Some("sales"), "Order Lines", PRE, None), "/****** Object:  Table [sales].[Order Lines]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [sales].[Order Lines](
\t[OrderId] [int] NOT NULL,
\t[Sku] [varchar](20) NOT NULL
) ON [PRIMARY]
GO
"),
    ((Kind::View, "View", SHOP, DBO, "OpenOrders", PRE, None), "/****** Object:  View [dbo].[OpenOrders]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE VIEW [dbo].[OpenOrders] AS
SELECT o.[Id], c.[Name] FROM [dbo].[Orders] o JOIN [dbo].[Customers] c ON c.[Id] = o.[CustomerId]
GO
"),
    // A value holding a line `GO` and a header: no batch ends, no object opens. (Headers inside
    // values and bodies carry dates of their own, which are their text and count in digests.)
    ((Kind::TableData, "Table Data", SHOP, DBO, "Customers", DATA, Some(2)), "SET IDENTITY_INSERT [dbo].[Customers] ON 
GO
INSERT [dbo].[Customers] ([Id], [Name]) VALUES (1, N'Zürich AG')
GO
INSERT [dbo].[Customers] ([Id], [Name]) VALUES (2, N'it''s
GO
/****** Object:  Table [dbo].[Fake]    Script Date: 1/1/2000 12:00:00 AM ******/
INSERT [dbo].[Fake] ([Id]) VALUES (9)
not the end')
GO
SET IDENTITY_INSERT [dbo].[Customers] OFF
GO
"),
    ((Kind::TableData, "Table Data", SHOP, DBO, "Orders", DATA, Some(3)), "INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (10, 1, 5, NULL, CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (11, 2, 1, N'(urgent); -- call', CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (12, 2, 7, N'[x]]', CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
"),
    ((Kind::TableData, "Table Data", SHOP, Some("sales"), "Order Lines", DATA, Some(2)), "INSERT [sales].[Order Lines] ([OrderId], [Sku]) VALUES (10, 'A-1')
GO
INSERT [sales].[Order Lines] ([OrderId], [Sku]) VALUES (11, 'B-2')
GO
"),
    ((Kind::Index, "Index", SHOP, None, "IX_Orders_Note", POST, None), "SET ANSI_PADDING ON
GO
/****** Object:  Index [IX_Orders_Note]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE NONCLUSTERED INDEX [IX_Orders_Note] ON [dbo].[Orders]
(
\t[Note] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, SORT_IN_TEMPDB = OFF, DROP_EXISTING = OFF, ONLINE = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
GO
"),
    ((Kind::Default, "Default", SHOP, DBO, "Orders CreatedAt", POST, None), "ALTER TABLE [dbo].[Orders] ADD  DEFAULT (sysutcdatetime()) FOR [CreatedAt]\nGO\n"),
    ((Kind::ForeignKey, "ForeignKey", SHOP, DBO, "Orders FK_Orders_Customers", POST, None), "ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customers] ([Id])
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [FK_Orders_Customers]
GO
"),
    ((Kind::Constraint, "Check", SHOP, DBO, "Orders CK_Orders_Qty", POST, None), "ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [CK_Orders_Qty] CHECK  (([Qty]>(0)))
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [CK_Orders_Qty]
GO
"),
    // A procedure whose body holds a header, an INSERT and, in nested comments, a line `GO` and an
    // INSERT.
    ((Kind::Function, "StoredProcedure", SHOP, DBO, "Touch", POST, None), "/****** Object:  StoredProcedure [dbo].[Touch]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE PROCEDURE [dbo].[Touch] @id int
AS
BEGIN
/****** Object:  Table [dbo].[Fake]    Script Date: 2/2/2000 12:00:00 AM ******/
\tINSERT [dbo].[Fake] ([Id]) VALUES (@id)
\t/* a comment /* nested */
GO
INSERT [dbo].[Fake] ([Id]) VALUES (0)
\t still the comment */
\tUPDATE [dbo].[Orders] SET [Note] = N'touched' WHERE [Id] = @id
END
GO
"),
    ((Kind::Trigger, "Trigger", SHOP, DBO, "Orders_Audit", POST, None), "/****** Object:  Trigger [dbo].[Orders_Audit]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TRIGGER [dbo].[Orders_Audit] ON [dbo].[Orders] AFTER UPDATE AS
BEGIN
\tSET NOCOUNT ON;
END
GO
ALTER TABLE [dbo].[Orders] ENABLE TRIGGER [Orders_Audit]
GO
"),
    ((Kind::Trailer, "USE", None, None, "master", POST, None), "USE [master]\nGO\nALTER DATABASE [Shop] SET  READ_WRITE \nGO\n"),
];

/// SSMS 2008: each table's rows right after its definition, many INSERTs to a batch, the next
/// header right after the last; a header before the DROP and again before the CREATE; headers for
/// defaults, checks and foreign keys.
pub const SSMS_2008: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "USE [Shop]\nGO\n"),
    ((Kind::Table, "Table", SHOP, DBO, "Customers", PRE, None), "/****** Object:  Table [dbo].[Customers]    Script Date: 05/29/2010 02:10:37 ******/
IF  EXISTS (SELECT * FROM sys.objects WHERE object_id = OBJECT_ID(N'[dbo].[Customers]') AND type in (N'U'))
DROP TABLE [dbo].[Customers]
GO
/****** Object:  Table [dbo].[Customers]    Script Date: 05/29/2010 02:10:37 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
SET ANSI_PADDING ON
GO
CREATE TABLE [dbo].[Customers](
\t[Id] [int] IDENTITY(1,1) NOT NULL,
\t[Code] [varchar](10) NOT NULL,
 CONSTRAINT [PK_Customers] PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX  = OFF, STATISTICS_NORECOMPUTE  = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS  = ON, ALLOW_PAGE_LOCKS  = ON) ON [PRIMARY]
) ON [PRIMARY]
GO
SET ANSI_PADDING OFF
GO
"),
    ((Kind::TableData, "Table Data", SHOP, DBO, "Customers", DATA, Some(2)), "SET IDENTITY_INSERT [dbo].[Customers] ON
INSERT [dbo].[Customers] ([Id], [Code]) VALUES (1, 'A1')
INSERT [dbo].[Customers] ([Id], [Code]) VALUES (2, 'B2')
SET IDENTITY_INSERT [dbo].[Customers] OFF
"),
    ((Kind::Table, "Table", SHOP, DBO, "Orders", PRE, None), "/****** Object:  Table [dbo].[Orders]    Script Date: 05/29/2010 02:10:37 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Orders](
\t[Id] [int] NOT NULL,
\t[CustomerId] [int] NOT NULL,
\t[Qty] [int] NOT NULL
) ON [PRIMARY]
GO
"),
    ((Kind::TableData, "Table Data", SHOP, DBO, "Orders", DATA, Some(3)), "INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (10, 1, 5)
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (11, 2, 1)
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (12, 2, 7)
"),
    ((Kind::Default, "Default", SHOP, None, "DF_Orders_Qty", POST, None), "/****** Object:  Default [DF_Orders_Qty]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders] ADD  CONSTRAINT [DF_Orders_Qty]  DEFAULT ((1)) FOR [Qty]
GO
"),
    ((Kind::Constraint, "Check", SHOP, None, "CK_Orders_Qty", POST, None), "/****** Object:  Check [CK_Orders_Qty]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [CK_Orders_Qty] CHECK  (([Qty]>(0)))
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [CK_Orders_Qty]
GO
"),
    ((Kind::ForeignKey, "ForeignKey", SHOP, None, "FK_Orders_Customers", POST, None), "/****** Object:  ForeignKey [FK_Orders_Customers]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customers] ([Id])
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [FK_Orders_Customers]
GO
"),
];

/// Without descriptive headers (an SSMS option; sqlcmd users' and SSDT's scripts): objects open
/// at their `CREATE`, with the `SET ... ON` and `PRINT` batches before it; names that need
/// brackets; multi-row `VALUES` and `GO` with a count.
pub const NO_HEADERS: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "-- Shop, without headers\nUSE [Shop]\nGO\n"),
    ((Kind::Table, "Table", SHOP, DBO, "we]ird. näme 🦀", PRE, None), "PRINT N'Creating Table [dbo].[we]]ird. näme 🦀]...';
GO
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[we]]ird. näme 🦀](
\t[v] [int] NULL
) ON [PRIMARY]
GO
"),
    ((Kind::View, "View", SHOP, DBO, "Totals", PRE, None), "SET ANSI_NULLS ON\nGO\nCREATE OR ALTER VIEW dbo.Totals AS SELECT 1 AS one\nGO\n"),
    ((Kind::TableData, "Table Data", SHOP, DBO, "we]ird. näme 🦀", DATA, Some(4)), "INSERT INTO [dbo].[we]]ird. näme 🦀] ([v]) VALUES (1), (2),
\t(3)
INSERT INTO [dbo].[we]]ird. näme 🦀] ([v]) VALUES (4)
go 2 -- twice
"),
    ((Kind::TableData, "Table Data", SHOP, DBO, "Totals2", DATA, Some(1)), "INSERT INTO dbo.Totals2 VALUES (5)\nGO\n"),
    ((Kind::Index, "Index", SHOP, DBO, "IX weird", POST, None), "CREATE NONCLUSTERED INDEX [IX weird] ON [dbo].[we]]ird. näme 🦀] ([v])\nGO\n"),
];

/// SSMS's Script Table as > CREATE To: one table, a blank line after every `GO`, its default and
/// foreign key after it.
pub const SCRIPT_TABLE_AS: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "USE [Shop]\nGO\n"),
    ((Kind::Table, "Table", SHOP, DBO, "Orders", PRE, None), "
/****** Object:  Table [dbo].[Orders]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO

SET QUOTED_IDENTIFIER ON
GO

CREATE TABLE [dbo].[Orders](
\t[Id] [int] NOT NULL,
\t[CustomerId] [int] NOT NULL,
\t[CreatedAt] [datetime2](7) NOT NULL
) ON [PRIMARY]
GO
"),
    ((Kind::Default, "Default", SHOP, DBO, "Orders CreatedAt", PRE, None), "
ALTER TABLE [dbo].[Orders] ADD  DEFAULT (sysutcdatetime()) FOR [CreatedAt]
GO
"),
    ((Kind::ForeignKey, "ForeignKey", SHOP, DBO, "Orders FK_Orders_Customers", PRE, None), "
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customers] ([Id])
GO

ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [FK_Orders_Customers]
GO
"),
];

/// Another table's Script Table as, put after [`SCRIPT_TABLE_AS`]: its `USE` is its own.
pub const NEXT_TABLE_AS: &[(Want, &str)] = &[((Kind::Table, "Table", SHOP, DBO, "Customers", PRE, None), "
USE [Shop]
GO

/****** Object:  Table [dbo].[Customers]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO

CREATE TABLE [dbo].[Customers]([Id] [int] NOT NULL) ON [PRIMARY]
GO
")];
